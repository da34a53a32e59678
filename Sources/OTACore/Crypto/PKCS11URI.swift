internal import Foundation
public import OTABase

/// A PKCS#11 URI naming a private key in a token (RFC 7512), e.g.
/// `pkcs11:token=release;object=signer-1;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/pin`.
///
/// Parsed strictly: every attribute is known, given once and percent-decoded; the PIN comes from
/// `pin-value` or `pin-source` (a file, or a `file:` URI) and the module from `module-path`, so
/// that what is left is the object selector the OpenSSL engine receives.
public struct PKCS11URI: Sendable, Equatable {
    /// Path attributes that select the token and the object, as given (percent-encoded), in order.
    public let path: [(name: String, value: String)]
    /// The PKCS#11 module (a shared library) to load; nil: the engine's default (p11-kit's proxy).
    public let modulePath: String?
    /// The token PIN given in the URI itself (`pin-value`, RFC 7512 §2.3).
    public let pinValue: [UInt8]?
    /// A file holding the token PIN (`pin-source`).
    public let pinSource: String?

    public static func == (lhs: PKCS11URI, rhs: PKCS11URI) -> Bool {
        lhs.path.map { "\($0.name)=\($0.value)" } == rhs.path.map { "\($0.name)=\($0.value)" }
            && lhs.modulePath == rhs.modulePath
            && lhs.pinValue == rhs.pinValue && lhs.pinSource == rhs.pinSource
    }

    /// Path attributes RFC 7512 defines that the OpenSSL engine (libp11) can match on.
    static let selectorAttributes: Set<String> = ["token", "manufacturer", "serial", "model", "object", "id", "type"]
    /// Path attributes RFC 7512 defines that libp11 0.4 cannot match on: refused with a reason rather than ignored.
    static let unsupportedAttributes: Set<String> = [
        "library-manufacturer", "library-description", "library-version", "slot-manufacturer", "slot-description",
        "slot-id", "module-name",
    ]
    /// Longest URI accepted (a key reference, not a document).
    static let maximumLength = 4096

    /// Whether `reference` names a PKCS#11 object rather than a key file.
    public static func isPKCS11(_ reference: String) -> Bool { reference.lowercased().hasPrefix("pkcs11:") }

    public init(_ text: String) throws(OTAError) {
        func problem(_ why: String) -> OTAError {
            OTAError(
                .keyPKCS11URI, "PKCS#11 URI: \(why) (RFC 7512: pkcs11:token=T;object=O?pin-source=FILE&module-path=LIB)"
            )
        }
        guard text.utf8.count <= Self.maximumLength else { throw problem("longer than \(Self.maximumLength) bytes") }
        guard Self.isPKCS11(text) else { throw problem("does not start with pkcs11:") }
        guard text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
            throw problem("holds spaces, control or non-ASCII characters (percent-encode them)")
        }
        let body = text.dropFirst("pkcs11:".count)
        let parts = body.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let pathText = parts[0]
        let queryText = parts.count > 1 ? parts[1] : ""
        var seen: Set<String> = []
        var path: [(name: String, value: String)] = []
        var modulePath: String?
        var pinValue: [UInt8]?
        var pinSource: String?
        for (component, separator) in [(pathText, Character(";")), (queryText, Character("&"))] where !component.isEmpty
        {
            for attribute in component.split(separator: separator, omittingEmptySubsequences: false) {
                guard let equals = attribute.firstIndex(of: "=") else {
                    throw problem("attribute '\(attribute)' has no value")
                }
                let name = String(attribute[..<equals]).lowercased()
                let raw = String(attribute[attribute.index(after: equals)...])
                guard !raw.isEmpty else { throw problem("attribute '\(name)' is empty") }
                guard seen.insert(name).inserted else { throw problem("attribute '\(name)' is given twice") }
                let decoded = try Self.percentDecode(raw, attribute: name)
                let inQuery = separator == "&"
                switch name {
                case "pin-value": pinValue = decoded
                case "pin-source": pinSource = try Self.pinSourcePath(decoded)
                case "module-path":
                    guard let value = String(validating: decoded, as: UTF8.self), value.hasPrefix("/") else {
                        throw problem("module-path must be an absolute file path")
                    }
                    modulePath = value
                case _ where Self.unsupportedAttributes.contains(name):
                    throw problem(
                        "attribute '\(name)' is not supported by the OpenSSL PKCS#11 engine; select the key by token, serial, object or id"
                    )
                case _ where Self.selectorAttributes.contains(name):
                    guard !inQuery else { throw problem("'\(name)' is a path attribute; put it before the '?'") }
                    if name == "type", raw != "private" {
                        throw problem("type must be private (a signing key), not '\(raw)'")
                    }
                    if name == "id", decoded.isEmpty { throw problem("id is empty") }
                    path.append((name, raw))
                default:
                    throw problem("unknown attribute '\(name)'")
                }
            }
        }
        guard path.contains(where: { $0.name == "object" || $0.name == "id" }) else {
            throw problem("names no key: give object= or id=")
        }
        guard pinValue == nil || pinSource == nil else { throw problem("give the PIN once: pin-value or pin-source") }
        self.path = path
        self.modulePath = modulePath
        self.pinValue = pinValue
        self.pinSource = pinSource
    }

    /// The URI the engine receives: the selector only, never the PIN or the module.
    public var selector: String {
        "pkcs11:" + path.map { "\($0.name)=\($0.value)" }.joined(separator: ";")
    }

    /// The URI without its PIN, for messages and records.
    public var description: String {
        selector + (modulePath.map { "?module-path=\($0)" } ?? "")
    }

    /// Percent-decodes `value` (RFC 3986); a `%` not followed by two hex digits is an error.
    static func percentDecode(_ value: String, attribute: String) throws(OTAError) -> [UInt8] {
        let bytes = Array(value.utf8)
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = Hex.value(bytes[index + 1]),
                    let low = Hex.value(bytes[index + 2])
                else {
                    throw OTAError(
                        .keyPKCS11URI, "PKCS#11 URI: attribute '\(attribute)' has a '%' not followed by two hex digits")
                }
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return output
    }

    /// `pin-source` is a file path or a `file:` URI (RFC 7512 §2.4).
    static func pinSourcePath(_ value: [UInt8]) throws(OTAError) -> String {
        guard var text = String(validating: value, as: UTF8.self) else {
            throw OTAError(.keyPKCS11URI, "PKCS#11 URI: pin-source is not UTF-8")
        }
        if text.hasPrefix("file://") {
            text = String(text.dropFirst("file://".count))
        } else if text.hasPrefix("file:") {
            text = String(text.dropFirst("file:".count))
        }
        guard text.hasPrefix("/") else {
            throw OTAError(.keyPKCS11URI, "PKCS#11 URI: pin-source must name a file by its absolute path")
        }
        return text
    }
}
