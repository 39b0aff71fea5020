public import JesterManifest
import Crypto
import Foundation

/// A plugin as files: a manifest and its module, found from a directory, a manifest or a `.wasm`.
///
/// - a directory: its `plugin.json`, and the module it names (default `plugin.wasm`, or the only
///   `.wasm` in the directory);
/// - a `.json` file: that manifest and its module;
/// - a `.wasm` file: the `plugin.json` beside it when that names this module, otherwise a manifest
///   made up on the spot (id from the file name, no permissions, default limits).
public struct PluginBundle: Sendable {
    public var manifest: PluginManifest
    public var wasm: [UInt8]
    /// The manifest file, when there is one.
    public var manifestPath: String?
    public var modulePath: String

    public init(manifest: PluginManifest, wasm: [UInt8], manifestPath: String?, modulePath: String) {
        self.manifest = manifest
        self.wasm = wasm
        self.manifestPath = manifestPath
        self.modulePath = modulePath
    }

    /// Reads a plugin from `path`. Errors name the file and say what to do.
    public static func read(from path: String, maxModuleBytes: Int = ResourceLimits().maxModuleBytes) throws -> PluginBundle {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PluginError.notFound("\(path): no such file or directory")
        }
        if isDirectory.boolValue {
            let manifestPath = (path as NSString).appendingPathComponent("plugin.json")
            guard manager.fileExists(atPath: manifestPath) else {
                throw PluginError.notFound("\(path) has no plugin.json; create one (see docs/abi.md) or pass the .wasm file itself")
            }
            return try fromManifest(manifestPath, maxModuleBytes: maxModuleBytes)
        }
        if path.hasSuffix(".wasm") {
            let directory = (path as NSString).deletingLastPathComponent
            let sibling = (directory.isEmpty ? "." : directory as NSString).appendingPathComponent("plugin.json")
            if manager.fileExists(atPath: sibling), let bundle = try? fromManifest(sibling, maxModuleBytes: maxModuleBytes),
                URL(fileURLWithPath: bundle.modulePath).standardizedFileURL == URL(fileURLWithPath: path).standardizedFileURL
            {
                return bundle
            }
            let wasm = try readModule(path, maxModuleBytes: maxModuleBytes)
            let manifest = PluginManifest(id: syntheticID(for: path))
            return PluginBundle(manifest: manifest, wasm: wasm, manifestPath: nil, modulePath: path)
        }
        return try fromManifest(path, maxModuleBytes: maxModuleBytes)
    }

    /// The SHA-256 of a module as the manifest's `sha256` holds it: 64 lower-case hex digits.
    public static func sha256(of wasm: [UInt8]) -> String {
        Hex.encode(SHA256.hash(data: wasm))
    }

    /// Reads and decodes a manifest file, with every problem listed.
    public static func readManifest(_ path: String) throws -> PluginManifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ManifestError.unreadable(file: path, reason: "no such file, or not readable")
        }
        return try PluginManifest.decode(json: String(decoding: data, as: UTF8.self), file: path)
    }

    /// The module file a manifest at `manifestPath` refers to.
    public static func modulePath(for manifest: PluginManifest, manifestPath: String) throws -> String {
        let directory = (manifestPath as NSString).deletingLastPathComponent
        let base = directory.isEmpty ? "." : directory
        if let module = manifest.module {
            return (base as NSString).appendingPathComponent(module)
        }
        let conventional = (base as NSString).appendingPathComponent("plugin.wasm")
        if FileManager.default.fileExists(atPath: conventional) { return conventional }
        let candidates = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).filter { $0.hasSuffix(".wasm") }.sorted()
        if candidates.count == 1 { return (base as NSString).appendingPathComponent(candidates[0]) }
        if candidates.isEmpty {
            throw PluginError.notFound("\(manifestPath): no \"module\" given and no .wasm file next to it; build the plugin first, or set \"module\"")
        }
        throw PluginError.notFound("\(manifestPath): no \"module\" given and several .wasm files next to it (\(candidates.joined(separator: ", "))); set \"module\"")
    }

    private static func fromManifest(_ manifestPath: String, maxModuleBytes: Int) throws -> PluginBundle {
        let manifest = try readManifest(manifestPath)
        let modulePath = try modulePath(for: manifest, manifestPath: manifestPath)
        guard FileManager.default.fileExists(atPath: modulePath) else {
            throw PluginError.notFound("\(modulePath) (the module of \(manifestPath)) does not exist; build the plugin first, e.g. `jester plugin build \((manifestPath as NSString).deletingLastPathComponent)`")
        }
        let wasm = try readModule(modulePath, maxModuleBytes: max(maxModuleBytes, manifest.limits.maxModuleBytes))
        return PluginBundle(manifest: manifest, wasm: wasm, manifestPath: manifestPath, modulePath: modulePath)
    }

    private static func readModule(_ path: String, maxModuleBytes: Int) throws -> [UInt8] {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > maxModuleBytes {
            throw PluginError.limitExceeded(.moduleSize, "\(path) is \(size) bytes, over the \(maxModuleBytes)-byte module limit")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PluginError.io("\(path): cannot read the module")
        }
        guard data.count >= 8, data.prefix(4) == Data([0x00, 0x61, 0x73, 0x6D]) else {
            throw PluginError.invalidModule("\(path) is not a WebAssembly module (it does not start with \\0asm); if it is WAT text, convert it with `wat2wasm`")
        }
        return [UInt8](data)
    }

    /// A plugin id made from a file name: `My Filter.wasm` → `my-filter`.
    static func syntheticID(for path: String) -> String {
        let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension.lowercased()
        var id = String(name.unicodeScalars.map { scalar -> Character in
            let allowed = ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "_" || scalar == "."
            return allowed ? Character(scalar) : "-"
        })
        while let first = id.first, !(first.isLetter || first.isNumber) { id.removeFirst() }
        return id.isEmpty ? "plugin" : id
    }
}
