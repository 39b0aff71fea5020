import Crypto
public import Foundation
public import JesterManifest

/// An Ed25519 key that plugin authors sign with.
///
/// Its file (see ``secretKeyFile``) is two lines: `jester-ed25519-secret-key-v1` and the 32-byte
/// private key (the RFC 8032 seed) as 64 lowercase hex digits.
///
/// ```swift
/// let key = PluginSigningKey()
/// print(key.publicKey)   // 64 hex digits, for `jester trust add`
/// ```
public struct PluginSigningKey: Sendable {
    /// The first line of a secret key file.
    public static let secretKeyHeader = "jester-ed25519-secret-key-v1"

    private let key: Curve25519.Signing.PrivateKey

    /// A new random key.
    public init() {
        key = Curve25519.Signing.PrivateKey()
    }

    /// Reads a key from the text of its file.
    ///
    /// - Parameter path: The file it came from, for error messages.
    public init(secretKeyFile text: String, path: String) throws(PluginError) {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard lines.count == 2, lines[0] == Self.secretKeyHeader else {
            throw PluginError.invalidArgument("\(path) is not a Jester secret key file (it should be the line \"\(Self.secretKeyHeader)\" and 64 hex digits); make one with `jester plugin keygen`")
        }
        guard let seed = Hex.decode(lines[1]), seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw PluginError.invalidArgument("\(path): the key line is not 64 hex digits; the file is damaged, make a new key with `jester plugin keygen`")
        }
        self.key = key
    }

    /// The public key as 64 lowercase hex digits: what `jester trust add` takes.
    public var publicKey: String { Hex.encode(key.publicKey.rawRepresentation) }

    /// The text of the key's file. Whoever has it can sign as this key: keep it at mode 0600.
    public var secretKeyFile: String { "\(Self.secretKeyHeader)\n\(Hex.encode(key.rawRepresentation))\n" }

    func signature(for message: [UInt8]) throws(PluginError) -> [UInt8] {
        do {
            return Array(try key.signature(for: Data(message)))
        } catch {
            throw PluginError.invalidArgument("cannot sign: \(error)")
        }
    }
}

/// Signing plugins and checking their signatures (docs/signing.md).
///
/// A signature is Ed25519 over ``PluginManifest/signedMessage(manifest:moduleSHA256:)``: a fixed
/// prefix, the module's SHA-256 and the canonical form of the manifest without its `signature`.
/// The manifest's `sha256` must equal the module's, so one byte changed in either file, or a
/// field changed in the manifest, breaks the signature.
public enum PluginSignature {
    /// Signs a plugin: returns its manifest JSON with `sha256` set to the module's SHA-256 and
    /// `signature` set, every other member kept as it was and in its order (`sha256` and
    /// `signature` are added at the end when they were not there).
    ///
    /// - Throws: ``PluginError`` when the manifest is not an object, or has no canonical form.
    public static func sign(manifest json: JSONValue, wasm: [UInt8], with key: PluginSigningKey) throws(PluginError) -> JSONValue {
        guard case .object(var members) = json else {
            throw PluginError.invalidManifest("a manifest is a JSON object, found \(json.typeDescription)")
        }
        let digest = PluginBundle.sha256(of: wasm)
        members.removeAll { $0.key == "signature" }
        if let index = members.firstIndex(where: { $0.key == "sha256" }) {
            members[index].value = .string(digest)
        } else {
            members.append((key: "sha256", value: .string(digest)))
        }
        let message: [UInt8]
        do {
            message = try PluginManifest.signedMessage(manifest: .object(members), moduleSHA256: digest)
        } catch {
            throw PluginError.invalidManifest("cannot sign: \(error)")
        }
        let signature = try key.signature(for: message)
        members.append((key: "signature", value: .object([("public_key", .string(key.publicKey)), ("value", .string(Hex.encode(signature)))])))
        return .object(members)
    }

    /// Checks that a plugin is signed and that the signature matches its module and manifest,
    /// without asking whom it is signed by. Returns the signer's public key (lowercase hex).
    ///
    /// The signature is checked against ``PluginManifest/source``, the JSON the manifest was read
    /// from: a manifest made in code is unsigned.
    ///
    /// - Parameter file: The manifest's file, for error messages.
    /// - Throws: ``PluginError`` with code ``PluginError/Code/unsigned``,
    ///   ``PluginError/Code/hashMismatch`` or ``PluginError/Code/badSignature``, naming the plugin.
    public static func check(manifest: PluginManifest, wasm: [UInt8], file: String? = nil) throws(PluginError) -> String {
        try check(manifest: manifest, moduleSHA256: PluginBundle.sha256(of: wasm), file: file)
    }

    /// Checks a plugin's signature and that its signer is trusted by `policy` at `date` (see
    /// ``check(manifest:wasm:file:)``). Returns the trusted key it is signed with, or `nil` when
    /// the policy does not require signatures.
    ///
    /// - Throws: ``PluginError`` as ``check(manifest:wasm:file:)`` does, or with code
    ///   ``PluginError/Code/untrustedSigner`` when the key is unknown, revoked or expired.
    @discardableResult
    public static func verify(manifest: PluginManifest, wasm: [UInt8], policy: SignaturePolicy, file: String? = nil, at date: Date = Date()) throws(PluginError) -> TrustedKey? {
        try verify(manifest: manifest, moduleSHA256: PluginBundle.sha256(of: wasm), policy: policy, file: file, at: date)
    }

    /// Checks a plugin read from files (see ``verify(manifest:wasm:policy:file:at:)``).
    @discardableResult
    public static func verify(_ bundle: PluginBundle, policy: SignaturePolicy, at date: Date = Date()) throws(PluginError) -> TrustedKey? {
        try verify(manifest: bundle.manifest, wasm: bundle.wasm, policy: policy, file: bundle.manifestPath, at: date)
    }

    static func verify(manifest: PluginManifest, moduleSHA256: String, policy: SignaturePolicy, file: String?, at date: Date) throws(PluginError) -> TrustedKey? {
        guard policy.isRequired else { return nil }
        let publicKey = try check(manifest: manifest, moduleSHA256: moduleSHA256, file: file)
        let what = file ?? "the manifest"
        let entry: TrustedKey?
        do {
            entry = try policy.lookup(publicKey: publicKey)
        } catch {
            throw error.with(pluginID: manifest.id)
        }
        guard let entry else {
            throw PluginError(
                code: .untrustedSigner, message: "\(what) is signed by key \(publicKey), which is not in the trust store; if you trust its author, add it with `jester trust add \(publicKey) --name NAME`",
                pluginID: manifest.id)
        }
        if let problem = entry.problem(at: date) {
            throw PluginError(
                code: .untrustedSigner, message: "\(what) is signed by \(entry.name) (key \(publicKey)), whose trust \(problem); the plugin is refused until it is signed by a key that is trusted",
                pluginID: manifest.id)
        }
        return entry
    }

    static func check(manifest: PluginManifest, moduleSHA256 digest: String, file: String?) throws(PluginError) -> String {
        let what = file ?? "the manifest"
        func failure(_ code: PluginError.Code, _ message: String) -> PluginError {
            PluginError(code: code, message: message, pluginID: manifest.id)
        }
        guard let source = manifest.source else {
            throw failure(.unsigned, "the manifest was made in code, not read from a plugin.json, so it carries no signature; load the plugin from its signed files")
        }
        guard let signature = source["signature"], let publicKey = signature["public_key"]?.stringValue, let value = signature["value"]?.stringValue else {
            throw failure(.unsigned, "\(what) is not signed, and signatures are required here; sign it with `jester plugin sign DIR --key KEYFILE` and trust its key with `jester trust add`")
        }
        guard let written = source["sha256"]?.stringValue else {
            throw failure(.badSignature, "\(what) has a signature but no \"sha256\", so it does not pin its module; sign it again with `jester plugin sign`")
        }
        guard written == digest else {
            throw failure(.hashMismatch, "the module's SHA-256 is \(digest) but \(what) says \(written): the module changed after the plugin was signed; restore it, or rebuild and sign again")
        }
        let message: [UInt8]
        do {
            message = try PluginManifest.signedMessage(manifest: source, moduleSHA256: digest)
        } catch {
            throw failure(.badSignature, "\(what) has no canonical form to check the signature against: \(error)")
        }
        guard let keyBytes = Hex.decode(publicKey), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: keyBytes), let signatureBytes = Hex.decode(value),
            key.isValidSignature(Data(signatureBytes), for: Data(message))
        else {
            throw failure(.badSignature, "the signature in \(what) (key \(publicKey)) does not match the manifest and module: one of them changed after signing; restore the signed files, or sign again")
        }
        return publicKey
    }
}

/// Hex encoding, for keys, signatures and digests (shared with the gateway's built-in filters).
package enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Lowercase hex of `bytes`.
    package static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of hex `text` (either case), or `nil` when it is not an even number of hex digits.
    package static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
