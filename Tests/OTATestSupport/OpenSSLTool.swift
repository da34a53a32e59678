public import Foundation
package import OTACore

/// The `openssl` command line, run as a separate process: an independent implementation to
/// check ours against, and the tool an attacker would use to make hostile inputs (a certificate
/// carrying a key in another point encoding, say).
public enum OpenSSLTool {
    public struct Failure: Error, CustomStringConvertible {
        public let arguments: [String]
        public let status: Int32
        public let output: String
        public var description: String { "openssl \(arguments.joined(separator: " ")) exited \(status): \(output)" }
    }

    /// Runs `openssl ARGUMENTS` in `directory`; returns standard output, throws on a non-zero exit.
    @discardableResult
    public static func run(
        _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:], stdin: Data? = nil
    ) throws -> Data {
        let (status, output, errors) = try status(arguments, in: directory, environment: environment, stdin: stdin)
        guard status == 0 else {
            throw Failure(
                arguments: arguments, status: status, output: String(decoding: output + errors, as: UTF8.self))
        }
        return output
    }

    /// Runs `openssl ARGUMENTS`; returns the exit status, standard output and standard error.
    public static func status(
        _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:], stdin: Data? = nil
    ) throws -> (Int32, Data, Data) {
        let outcome = try ChildProcess(
            "/usr/bin/openssl", arguments, directory: directory, environment: environment, captureErrors: true,
            input: stdin.map { Array($0) }
        ).finish()
        return (outcome.status, Data(outcome.stdout), Data(outcome.stderr))
    }

    /// How an EC point is written in a SubjectPublicKeyInfo (SEC 1 §2.3.3).
    public enum PointForm: String, Sendable, CaseIterable {
        case uncompressed, compressed, hybrid
    }

    /// Issues a certificate for the public key of `keyPEM` (a PEM private or public key file)
    /// with the `openssl` command line, the point re-encoded in `form` (EC and SM2 keys only),
    /// signed by `caKey`/`caCertificate`, with the extensions in `extensions` (an OpenSSL
    /// extension section's lines). SM2 CAs sign with SM3 and the default distinguishing ID.
    /// Returns the PEM path, in `directory`.
    public static func issueCertificate(
        for keyPEM: String, form: PointForm?, subject: String, caCertificate: String, caKey: String, sm2: Bool,
        extensions: [String], days: Int = 365, in directory: String, name: String = UUID().uuidString
    ) throws -> String {
        let publicKey = "\(directory)/\(name).pub.pem"
        if (try? String(contentsOfFile: keyPEM, encoding: .utf8))?.contains("PUBLIC KEY") == true {
            try FileManager.default.copyItem(atPath: keyPEM, toPath: publicKey + ".in")
        } else {
            try run(["pkey", "-in", keyPEM, "-pubout", "-out", publicKey + ".in"])
        }
        if let form {
            try run([
                "ec", "-pubin", "-in", publicKey + ".in", "-conv_form", form.rawValue, "-pubout", "-out", publicKey,
            ])
        } else {
            try FileManager.default.copyItem(atPath: publicKey + ".in", toPath: publicKey)
        }
        let extensionFile = "\(directory)/\(name).ext"
        try extensions.joined(separator: "\n").appending("\n").write(
            toFile: extensionFile, atomically: true, encoding: .utf8)
        let certificate = "\(directory)/\(name).crt"
        let serial = "0x" + (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...0x7f)) }.joined()
        var arguments = [
            "x509", "-new", "-subj", subject, "-force_pubkey", publicKey, "-CA", caCertificate, "-CAkey", caKey,
            "-extfile", extensionFile,
            "-days", String(days), "-set_serial", serial, "-out", certificate,
        ]
        if sm2 { arguments += ["-sm3", "-sigopt", "distid:1234567812345678"] }
        try run(arguments)
        return certificate
    }

    /// The extension lines of a release signer as `ota` issues them (leaf, digitalSignature,
    /// codeSigning and the release role marker), plus `extra` lines.
    public static func signerExtensions(extendedKeyUsage: String? = nil, extra: [String] = []) -> [String] {
        leafExtensions(extendedKeyUsage: extendedKeyUsage ?? "codeSigning,\(ProjectOID.role(.release))") + extra
    }

    /// The extension lines of a client leaf of `role` (clientAuth and the role marker, unless
    /// `extendedKeyUsage` says otherwise), with the signer-id extension naming `signerID` (a
    /// vehicle's VIN, as `ota keys issue --signer-id` writes it) when given.
    package static func clientExtensions(
        _ role: TrustRole, extendedKeyUsage: String? = nil, signerID: String? = nil
    ) -> [String] {
        leafExtensions(extendedKeyUsage: extendedKeyUsage ?? "clientAuth,\(ProjectOID.role(role))")
            + (signerID.map { ["\(ProjectOID.signerID)=ASN1:UTF8String:\($0)"] } ?? [])
    }

    /// A leaf that signs: not a CA, digitalSignature, the given extended key usage, key ids.
    static func leafExtensions(extendedKeyUsage: String) -> [String] {
        [
            "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
            "extendedKeyUsage=\(extendedKeyUsage)", "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid:always",
        ]
    }
}
