/// A `plugin.json` rewritten for a rebuilt module: what `jester plugin build` writes back.
public struct ManifestDigestUpdate: Sendable, Hashable {
    /// The new manifest text: the old one's keys in their order, with `sha256` set (in place,
    /// or added last) and `signature` removed when the module changed. The old text is edited in
    /// place where that is enough (a changed digest, or one added after the last key), so its
    /// layout stays; otherwise (a signature to remove) it is written again as pretty JSON. `nil`
    /// when nothing changes (the module's digest is the one already recorded).
    public let json: String?
    /// The digest the manifest had before, if any.
    public let previousSHA256: String?
    /// Whether a `signature` was removed: it signed the old module, so the plugin must be
    /// signed again.
    public let removedSignature: Bool

    /// Rewrites the manifest `text` for a module whose SHA-256 is `sha256` (64 lower-case hex
    /// digits). Every other key is kept as it is, in its order, including keys a newer Jester
    /// added; only the layout (two-space indentation) may change.
    ///
    /// ```swift
    /// let update = try ManifestDigestUpdate(manifest: text, sha256: digest)
    /// if let json = update.json { try json.write(toFile: path, atomically: true, encoding: .utf8) }
    /// ```
    ///
    /// - Throws: ``ManifestError`` when `text` is not a valid manifest.
    public init(manifest text: String, sha256: String, file: String? = nil) throws(ManifestError) {
        let document: JSONValue
        do {
            document = try JSONValue.parse(text)
        } catch {
            throw .syntax(error, file: file)
        }
        let manifest = try PluginManifest.decode(document, file: file)
        let isLowerHex = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) }
        guard sha256.utf8.count == 64, sha256.utf8.allSatisfy(isLowerHex) else {
            throw .invalid([ManifestIssue(path: "$.sha256", message: "\"\(sha256)\" is not a SHA-256 in lower-case hex")], file: file)
        }
        previousSHA256 = manifest.sha256
        guard manifest.sha256 != sha256, case .object(var members) = document else {
            json = nil
            removedSignature = false
            return
        }
        if let index = members.firstIndex(where: { $0.key == "sha256" }) {
            members[index].value = .string(sha256)
        } else {
            members.append((key: "sha256", value: .string(sha256)))
        }
        let signed = members.contains { $0.key == "signature" }
        members.removeAll { $0.key == "signature" }
        removedSignature = signed
        let updated = JSONValue.object(members)
        if !signed, let edited = Self.edit(text, previous: manifest.sha256, sha256: sha256),
            (try? JSONValue.parse(edited)) == updated
        {
            json = edited
        } else {
            json = updated.serialized(pretty: true) + "\n"
        }
    }

    /// `text` with the digest `previous` replaced by `sha256`, or `"sha256"` added after the
    /// last member in the indentation of the line before; `nil` when that cannot be done (the
    /// caller checks the result parses to the intended manifest).
    static func edit(_ text: String, previous: String?, sha256: String) -> String? {
        if let previous {
            let old = "\"\(previous)\""
            let ranges = text.ranges(of: old)
            guard ranges.count == 1 else { return nil }
            var edited = text
            edited.replaceSubrange(ranges[0], with: "\"\(sha256)\"")
            return edited
        }
        guard let close = text.lastIndex(of: "}"),
            let last = text[..<close].lastIndex(where: { !$0.isWhitespace }), text[last] != "{"
        else { return nil }
        let lineStart = text[..<last].lastIndex(where: \.isNewline).map { text.index(after: $0) } ?? text.startIndex
        let indentation = text[lineStart...].prefix(while: { $0 == " " || $0 == "\t" })
        let separator = text[lineStart..<last].contains("{") && lineStart == text.startIndex ? " " : "\n" + indentation
        var edited = text
        edited.insert(contentsOf: ",\(separator)\"sha256\": \"\(sha256)\"", at: text.index(after: last))
        return edited
    }
}
