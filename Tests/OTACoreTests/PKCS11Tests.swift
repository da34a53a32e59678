import Foundation
import OTACore
import OTATestSupport
import Testing

/// PKCS#11 URIs (RFC 7512) are key references: parsed strictly, every attribute known and given once.
@Suite struct PKCS11URITests {
    @Test func `a URI names the object, the module and the PIN source`() throws {
        let uri = try PKCS11URI(
            "pkcs11:token=Release%20HSM;object=signer-1;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin"
        )
        #expect(uri.selector == "pkcs11:token=Release%20HSM;object=signer-1;type=private")
        #expect(uri.modulePath == "/usr/lib/softhsm/libsofthsm2.so")
        #expect(uri.pinSource == "/run/pin")
        #expect(uri.pinValue == nil)
        #expect(!uri.description.contains("pin"))
        let inline = try PKCS11URI("pkcs11:id=%01%02;token=t?pin-value=12%2034")
        #expect(inline.pinValue == Array("12 34".utf8))
        #expect(!inline.selector.contains("pin"))
    }

    @Test(arguments: [
        ("pkcs11:token=t", "names no key"),
        ("pkcs11:object=a;object=b", "given twice"),
        ("pkcs11:object=a;OBJECT=b", "given twice"),
        ("pkcs11:object=a;colour=red", "unknown attribute"),
        ("pkcs11:object=a;slot-id=1", "not supported"),
        ("pkcs11:object=a?module-name=softhsm2", "not supported"),
        ("pkcs11:object=a;type=public", "type must be private"),
        ("pkcs11:object=a%2", "two hex digits"),
        ("pkcs11:object=a%zz", "two hex digits"),
        ("pkcs11:object=a?pin-value=1&pin-source=/p", "PIN once"),
        ("pkcs11:object=a?pin-source=pin.txt", "absolute path"),
        ("pkcs11:object=a?module-path=libsofthsm2.so", "absolute file path"),
        ("pkcs11:token=t?object=b", "path attribute"),
        ("pkcs11:object=a b", "spaces"),
        ("pkcs11:object=\u{202E}a", "non-ASCII"),
        ("pkcs11:object=", "empty"),
        ("pkcs11:object", "no value"),
        ("file:object=a", "does not start with pkcs11:"),
    ])
    func `a malformed or unsupported URI is refused by name`(text: String, reason: String) {
        #expect {
            _ = try PKCS11URI(text)
        } throws: { error in
            guard let error = error as? OTAError else { return false }
            return error.code == .keyPKCS11URI && error.message.contains(reason)
        }
    }

    @Test func `a huge URI is refused before it is parsed`() {
        #expect(throws: OTAError.self) { _ = try PKCS11URI("pkcs11:object=" + String(repeating: "a", count: 5000)) }
    }
}

/// Keys in a real SoftHSM2 token: they sign through OpenSSL's pkcs11 engine, their signatures
/// verify with `ota` and with the `openssl` command line, and they never leave the token.
@Suite(
    .serialized,
    .enabled(
        if: SoftHSMToken.isAvailable,
        "SoftHSM2, opensc and libengine-pkcs11-openssl are installed by scripts/install-deps.sh"))
struct PKCS11SigningTests {
    let token: SoftHSMToken

    init() throws { token = try SoftHSMToken.shared.get() }

    @Test func `a P-256 key in the token signs and the signature verifies with ota and with openssl`() throws {
        let uri = try token.keyPair(label: "core-signer", id: "c1")
        let key = try PrivateKey(reference: uri)
        #expect(key.isTokenKey)
        #expect(key.type == .p256)
        let message = Array("DSSEv1 a token signed this".utf8)
        let signature = try key.signature(for: message)
        #expect(try key.publicKey.check(signature, for: message, algorithm: .ecdsaP256SHA256) == .valid)
        #expect(try key.publicKey.check(signature, for: message + [0], algorithm: .ecdsaP256SHA256) == .invalid)
        // The private key cannot be exported: no key bytes reach this process.
        #expect(throws: OTAError.self) { _ = try key.pem() }

        let work = token.directory + "/core-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try token.publicKeyPEM(id: "c1", to: work + "/pub.pem")
        #expect(try PublicKey(pem: String(contentsOfFile: work + "/pub.pem", encoding: .utf8)) == key.publicKey)
        try Data(message).write(to: URL(fileURLWithPath: work + "/msg"))
        try Data(signature).write(to: URL(fileURLWithPath: work + "/sig"))
        try OpenSSLTool.run([
            "dgst", "-sha256", "-verify", work + "/pub.pem", "-signature", work + "/sig", work + "/msg",
        ])
    }

    @Test func `the PIN comes from the URI, a file or the environment, and a missing or wrong PIN is a clear error`()
        throws
    {
        try token.keyPair(label: "core-signer", id: "c1")
        let base = "pkcs11:token=\(SoftHSMToken.label);object=core-signer?module-path=\(SoftHSMToken.module)"
        #expect(try PrivateKey(reference: base + "&pin-value=\(SoftHSMToken.pin)").type == .p256)
        #expect(try PrivateKey(reference: base, passphrase: .file(token.pinFile)).type == .p256)
        setenv("OTA_TEST_TOKEN_PIN", SoftHSMToken.pin, 1)
        #expect(try PrivateKey(reference: base, passphrase: .environment("OTA_TEST_TOKEN_PIN")).type == .p256)
        #expect(throws: OTAError(.keyPKCS11Pin, "")) { _ = try PrivateKey(reference: base) }
        // A wrong PIN is refused by the token in a fresh process (HSMSigningTests): OpenSSL's engine
        // keeps its login for the life of a process, as this one has logged in already.
    }

    @Test func `a missing object, token or module is key.pkcs11, never a file error`() throws {
        let pin = "&pin-source=\(token.pinFile)"
        #expect(throws: OTAError(.keyPKCS11, "")) {
            _ = try PrivateKey(
                reference: "pkcs11:token=\(SoftHSMToken.label);object=nobody?module-path=\(SoftHSMToken.module)\(pin)")
        }
        #expect(throws: OTAError(.keyPKCS11, "")) {
            _ = try PrivateKey(
                reference: "pkcs11:token=no-such-token;object=core-signer?module-path=\(SoftHSMToken.module)\(pin)")
        }
        #expect(throws: OTAError(.keyPKCS11, "")) {
            _ = try PrivateKey(reference: "pkcs11:object=core-signer?module-path=/nonexistent/libpkcs11.so\(pin)")
        }
    }

    @Test func `loading a token key never makes the engine the backend of other keys`() throws {
        _ = try PrivateKey(reference: try token.keyPair(label: "core-signer", id: "c1"))
        // What libcurl's OpenSSL set-up does (OPENSSL_init_ssl with the built-in engines): offer
        // every engine in OpenSSL's list as the default for what it implements. Before the fix,
        // every P-256 key then went through the pkcs11 engine and failed.
        let libcrypto = try #require(
            dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD) ?? dlopen("libcrypto.so.3", RTLD_NOW))
        typealias RegisterAll = @convention(c) () -> Void
        let registerAll = unsafeBitCast(
            try #require(dlsym(libcrypto, "ENGINE_register_all_complete")), to: RegisterAll.self)
        registerAll()
        for type in [KeyType.p256, .sm2] {
            let key = try PrivateKey.generate(type)
            let message = Array("a file key after the engine".utf8)
            let signature = try key.signature(for: message)
            #expect(
                try key.publicKey.check(signature, for: message, algorithm: try SignatureAlgorithm.forKey(type))
                    == .valid)
            #expect(!key.isTokenKey)
        }
    }

    @Test func `a CA key in the token issues a certificate and a CRL that openssl verifies`() throws {
        let uri = try token.keyPair(label: "core-ca", id: "ca")
        let caKey = try PrivateKey(reference: uri)
        let now = Date()
        let root = try CertificateIssuer.selfSignedRoot(
            key: caKey,
            profile: CertificateProfile(
                commonName: "HSM Root CA", organization: "ota tests", usage: .certificateAuthority(pathLength: 1),
                notBefore: now.addingTimeInterval(-60),
                notAfter: now.addingTimeInterval(86400 * 365)))
        let issuer = CertificateIssuer(key: caKey, certificate: root)
        let leafKey = try PrivateKey.generate(.p256)
        let request = try CertificateRequest.make(
            subject: .init(commonName: "Signer", organization: "ota tests"), key: leafKey)
        let leaf = try issuer.issue(
            request: request, role: .release, signerID: "engineer-1", notBefore: now,
            notAfter: now.addingTimeInterval(86400))
        #expect(leaf.isIssued(by: root))
        let crl = try issuer.revoke(
            [Revocation(serial: leaf.serialBytes, date: now, reason: .keyCompromise)], previous: nil, thisUpdate: now,
            nextUpdate: now.addingTimeInterval(3600))
        let work = token.directory + "/ca-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try root.pem.write(toFile: work + "/root.crt", atomically: true, encoding: .utf8)
        try leaf.pem.write(toFile: work + "/leaf.crt", atomically: true, encoding: .utf8)
        try crl.pem.write(toFile: work + "/root.crl", atomically: true, encoding: .utf8)
        try OpenSSLTool.run(["verify", "-CAfile", work + "/root.crt", "-purpose", "any", work + "/leaf.crt"])
        try OpenSSLTool.run(["crl", "-in", work + "/root.crl", "-CAfile", work + "/root.crt", "-noout"])
        let (status, output, errors) = try OpenSSLTool.status([
            "verify", "-CAfile", work + "/root.crt", "-crl_check", "-CRLfile", work + "/root.crl", work + "/leaf.crt",
        ])
        #expect(status != 0)
        #expect(String(decoding: output + errors, as: UTF8.self).contains("revoked"))
    }
}
