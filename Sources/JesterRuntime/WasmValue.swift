import WasmKit

/// A WebAssembly value passed to or returned from a core function export.
///
/// Jester's own type, so that embedders never depend on the engine's types.
public enum WasmValue: Sendable, Hashable, CustomStringConvertible {
    case i32(Int32)
    case i64(Int64)
    case f32(Float)
    case f64(Double)

    public var description: String {
        switch self {
        case .i32(let v): return "\(v)"
        case .i64(let v): return "\(v)"
        case .f32(let v): return "\(v)"
        case .f64(let v): return "\(v)"
        }
    }

    /// The value's type.
    public var type: WasmValueType {
        switch self {
        case .i32: return .i32
        case .i64: return .i64
        case .f32: return .f32
        case .f64: return .f64
        }
    }

    /// Parses `text` as a value of `type` (`"42"`, `"-1"`, `"1.5"`).
    public init?(parsing text: String, as type: WasmValueType) {
        switch type {
        case .i32:
            if let v = Int32(text) { self = .i32(v) } else if let v = UInt32(text) { self = .i32(Int32(bitPattern: v)) } else { return nil }
        case .i64:
            if let v = Int64(text) { self = .i64(v) } else if let v = UInt64(text) { self = .i64(Int64(bitPattern: v)) } else { return nil }
        case .f32:
            guard let v = Float(text) else { return nil }
            self = .f32(v)
        case .f64:
            guard let v = Double(text) else { return nil }
            self = .f64(v)
        default:
            return nil
        }
    }

    var engineValue: Value {
        switch self {
        case .i32(let v): return .i32(UInt32(bitPattern: v))
        case .i64(let v): return .i64(UInt64(bitPattern: v))
        case .f32(let v): return .f32(v.bitPattern)
        case .f64(let v): return .f64(v.bitPattern)
        }
    }

    init?(engineValue: Value) {
        switch engineValue {
        case .i32(let v): self = .i32(Int32(bitPattern: v))
        case .i64(let v): self = .i64(Int64(bitPattern: v))
        case .f32(let v): self = .f32(Float(bitPattern: v))
        case .f64(let v): self = .f64(Double(bitPattern: v))
        default: return nil
        }
    }
}

/// The type of a WebAssembly value, as it appears in signatures.
public struct WasmValueType: Sendable, Hashable, CustomStringConvertible {
    private let name: String
    private init(_ name: String) { self.name = name }

    public static let i32 = WasmValueType("i32")
    public static let i64 = WasmValueType("i64")
    public static let f32 = WasmValueType("f32")
    public static let f64 = WasmValueType("f64")
    public static let v128 = WasmValueType("v128")
    public static let funcref = WasmValueType("funcref")
    public static let externref = WasmValueType("externref")
    /// Any other reference type.
    public static let ref = WasmValueType("ref")

    public var description: String { name }

    init(_ type: ValueType) {
        switch type {
        case .i32: self = .i32
        case .i64: self = .i64
        case .f32: self = .f32
        case .f64: self = .f64
        case .v128: self = .v128
        case .ref(let ref):
            switch ref.heapType {
            case .abstract(.funcRef): self = .funcref
            case .abstract(.externRef): self = .externref
            default: self = .ref
            }
        }
    }

    var engineType: ValueType? {
        switch self {
        case .i32: return .i32
        case .i64: return .i64
        case .f32: return .f32
        case .f64: return .f64
        default: return nil
        }
    }
}

/// A function signature: parameter and result types.
public struct WasmSignature: Sendable, Hashable, CustomStringConvertible {
    public var parameters: [WasmValueType]
    public var results: [WasmValueType]

    public init(parameters: [WasmValueType], results: [WasmValueType]) {
        self.parameters = parameters
        self.results = results
    }

    init(_ type: FunctionType) {
        self.parameters = type.parameters.map(WasmValueType.init)
        self.results = type.results.map(WasmValueType.init)
    }

    var engineType: FunctionType {
        FunctionType(parameters: parameters.compactMap(\.engineType), results: results.compactMap(\.engineType))
    }

    /// WAT-like text: `(param i32 i32) (result i32)`, or `()` for no parameters and results.
    public var description: String {
        var parts: [String] = []
        if !parameters.isEmpty { parts.append("(param \(parameters.map(\.description).joined(separator: " ")))") }
        if !results.isEmpty { parts.append("(result \(results.map(\.description).joined(separator: " ")))") }
        return parts.isEmpty ? "()" : parts.joined(separator: " ")
    }
}
