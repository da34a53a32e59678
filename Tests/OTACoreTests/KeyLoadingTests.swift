import Foundation
import OTACore
import OTATestSupport
import Testing

@Suite("Key and certificate loading", .serialized)
struct KeyLoadingTests {
    @Test(arguments: [KeyType.p256, .ed25519, .x25519, .sm2])
    func `a PEM private key round trips and keeps its type`(type: KeyType) throws {
        let key = try PrivateKey.generate(type)
        let loaded = try PrivateKey(encoded: Array(try key.pem().utf8))
        #expect(loaded.type == type)
        #expect(try loaded.publicKey == key.publicKey)
    }

    @Test func `DER private keys made by the openssl command line load`() throws {
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        try OpenSSLTool.run([
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-outform", "DER", "-out",
            "\(directory)/ec.der",
        ])
        try OpenSSLTool.run(["genpkey", "-algorithm", "SM2", "-out", "\(directory)/sm2.pem"])
        #expect(try PrivateKey(contentsOf: "\(directory)/ec.der").type == .p256)
        #expect(try PrivateKey(contentsOf: "\(directory)/sm2.pem").type == .sm2)
    }

    @Test func `an encrypted key needs its passphrase from a file or the environment`() throws {
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        let key = try PrivateKey.generate(.p256)
        try key.pem(passphrase: Array("correct horse".utf8)).write(
            toFile: "\(directory)/k.pem", atomically: true, encoding: .utf8)
        try "correct horse\n".write(toFile: "\(directory)/pass", atomically: true, encoding: .utf8)
        try "wrong horse\n".write(toFile: "\(directory)/wrong", atomically: true, encoding: .utf8)

        #expect(
            try PrivateKey(contentsOf: "\(directory)/k.pem", passphrase: .file("\(directory)/pass")).publicKey
                == key.publicKey)
        setenv("OTA_TEST_PASSPHRASE", "correct horse", 1)
        defer { unsetenv("OTA_TEST_PASSPHRASE") }
        #expect(
            try PrivateKey(contentsOf: "\(directory)/k.pem", passphrase: .environment("OTA_TEST_PASSPHRASE")).publicKey
                == key.publicKey)

        #expect(throws: OTAError(.keyPassphraseRequired, "")) { try PrivateKey(contentsOf: "\(directory)/k.pem") }
        #expect(throws: OTAError(.keyPassphrase, "")) {
            try PrivateKey(contentsOf: "\(directory)/k.pem", passphrase: .file("\(directory)/wrong"))
        }
        #expect(throws: OTAError(.keyPassphraseMissing, "")) {
            try PrivateKey(contentsOf: "\(directory)/k.pem", passphrase: .environment("OTA_TEST_UNSET_VARIABLE"))
        }
    }

    @Test func `garbage, public keys and unsupported curves are refused with their own codes`() throws {
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        #expect(throws: OTAError(.keyMalformed, "")) { try PrivateKey(encoded: Array("not a key".utf8)) }
        let publicOnly = try PrivateKey.generate(.p256).publicKey.pem()
        #expect(throws: OTAError(.keyMalformed, "")) { try PrivateKey(encoded: Array(publicOnly.utf8)) }
        try OpenSSLTool.run([
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-out", "\(directory)/p384.pem",
        ])
        #expect(throws: OTAError(.keyUnsupported, "")) { try PrivateKey(contentsOf: "\(directory)/p384.pem") }
        #expect(throws: OTAError(.ioNotFound, "")) { try PrivateKey(contentsOf: "\(directory)/absent.pem") }
    }

    @Test func `certificates load from PEM chains and DER, and refuse trailing bytes`() throws {
        let pki = try TestPKI(suite: .gm)
        let chain = Array((pki.ca.certificate.pem + pki.root.certificate.pem).utf8)
        let loaded = try Certificate.load(chain, source: "chain.pem")
        #expect(loaded.count == 2)
        #expect(loaded[0] == pki.ca.certificate)
        #expect(try Certificate.load(pki.root.certificate.der, source: "root.der")[0] == pki.root.certificate)
        #expect(throws: OTAError(.certificateMalformed, "")) { try Certificate(der: pki.root.certificate.der + [0]) }
        #expect(throws: OTAError(.certificateMalformed, "")) {
            try Certificate.load(Array("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n".utf8), source: "x")
        }
        #expect(pki.ca.certificate.isCA)
        #expect(pki.ca.certificate.subject == "CN=Test CA,O=ota tests")
    }

    /// PEM as other tools write it: CRLF line ends (Windows), blank lines, text around the
    /// blocks (RFC 7468 allows it). A block begun and never ended, or ended under another
    /// label, is refused rather than skipped.
    @Test func `PEM with CRLF line ends loads; an unterminated or mislabelled block is refused`() throws {
        let pki = try TestPKI(suite: .intl)
        let pem = pki.root.certificate.pem + pki.ca.certificate.pem
        let crlf = "Subject: the roots\r\n" + pem.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try Certificate.load(Array(crlf.utf8), source: "crlf") == [pki.root.certificate, pki.ca.certificate])
        let crl = try pki.crls()[0]
        let crlCRLF = crl.pem.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try CertificateRevocationList.load(Array(crlCRLF.utf8), source: "crl").count == 1)
        let unterminated = pki.root.certificate.pem + "-----BEGIN CERTIFICATE-----\nMIIB\n"
        #expect(throws: OTAError.self) { try Certificate.load(Array(unterminated.utf8), source: "cut") }
        let mislabelled = pki.root.certificate.pem.replacingOccurrences(
            of: "-----END CERTIFICATE-----", with: "-----END X509 CRL-----")
        #expect(throws: OTAError.self) { try Certificate.load(Array(mislabelled.utf8), source: "mislabelled") }
    }

    /// X.509 here is DER: one encoding per certificate, so a fingerprint names one certificate.
    /// OpenSSL reads BER too (a long-form length with a leading zero byte, an indefinite length,
    /// a string in constructed pieces); those are refused.
    @Test func `a certificate or CRL in BER rather than DER is refused`() throws {
        let pki = try TestPKI(suite: .intl)
        let der = pki.ca.certificate.der
        // The outer SEQUENCE's long-form length, one byte longer with a leading zero.
        #expect(der[0] == 0x30 && der[1] == 0x82)
        let longLength = [0x30, 0x83, 0x00] + der[2...]
        let indefinite = [0x30, 0x80] + der[4...] + [0x00, 0x00]
        for (name, bytes) in [("long length", Array(longLength)), ("indefinite length", Array(indefinite))] {
            #expect(throws: OTAError.self, "\(name)") { try Certificate(der: bytes) }
        }
        #expect(try Certificate(der: der) == pki.ca.certificate)
        let crl = try pki.crls()[0].der
        #expect(crl[0] == 0x30)
        let crlLong: [UInt8] =
            crl[1] < 0x80
            ? [0x30, 0x81, crl[1]] + crl[2...]
            : [0x30, 0x80 | (crl[1] & 0x7f) + 1, 0x00] + crl[2...]
        #expect(throws: OTAError.self) { try CertificateRevocationList(der: crlLong) }
        #expect(throws: Never.self) { try CertificateRevocationList(der: crl) }
    }

    /// RFC 5280 allows one instance of each extension. OpenSSL parses a second one and only then
    /// marks the certificate invalid, so a certificate with two extended key usages was refused
    /// with "unable to get local issuer certificate" (an audit finding). It is refused when read,
    /// naming the extension. The certificate below is unsigned after the change: the parse
    /// refuses it before any signature would be checked.
    @Test func `a certificate or CRL with a repeated extension is refused when read, naming it`() throws {
        let pki = try TestPKI(suite: .intl)
        let der = pki.ca.certificate.der
        let doubled = try #require(Self.repeatingFirstExtension(der, extensionsTag: 0xa3))
        let caught = #expect(throws: OTAError.self) { try Certificate(der: doubled, source: "doubled.der") }
        #expect(caught?.code == .certificateMalformed)
        #expect(caught?.message.contains("appears twice") == true, "\(String(describing: caught))")
        #expect(caught?.message.contains("doubled.der") == true)
        #expect(try Certificate(der: der) == pki.ca.certificate)
        // A CRL's first extension (its CRL number, read to order CRLs) twice.
        let crl = try pki.crls()[0].der
        let doubledCRL = try #require(Self.repeatingFirstExtension(crl, extensionsTag: 0xa0))
        let refused = #expect(throws: OTAError.self) { try CertificateRevocationList(der: doubledCRL) }
        #expect(refused?.code == .crlMalformed && refused?.message.contains("appears twice") == true)
        #expect(throws: Never.self) { try CertificateRevocationList(der: crl) }
    }

    /// `der` (a certificate, or a CRL) with the first extension of the block tagged
    /// `extensionsTag` in its signed part ([3] in a certificate, [0] in a CRL) written twice,
    /// every enclosing length rewritten; nil when it has no extensions.
    static func repeatingFirstExtension(_ der: [UInt8], extensionsTag: UInt8) -> [UInt8]? {
        func split(_ bytes: ArraySlice<UInt8>) -> [(tag: UInt8, content: ArraySlice<UInt8>, whole: ArraySlice<UInt8>)] {
            var items: [(UInt8, ArraySlice<UInt8>, ArraySlice<UInt8>)] = []
            var index = bytes.startIndex
            while index < bytes.endIndex {
                let tag = bytes[index]
                var length = Int(bytes[index + 1])
                var start = index + 2
                if length >= 0x80 {
                    let count = length & 0x7f
                    length = bytes[start..<start + count].reduce(0) { $0 << 8 | Int($1) }
                    start += count
                }
                items.append((tag, bytes[start..<start + length], bytes[index..<start + length]))
                index = start + length
            }
            return items
        }
        func encode(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
            guard content.count >= 0x80 else { return [tag, UInt8(content.count)] + content }
            var length: [UInt8] = []
            var count = content.count
            while count > 0 {
                length.insert(UInt8(count & 0xff), at: 0)
                count >>= 8
            }
            return [tag, 0x80 | UInt8(length.count)] + length + content
        }
        guard let certificate = split(der[...]).first, let tbs = split(certificate.content).first else { return nil }
        var fields = split(tbs.content).map { Array($0.whole) }
        let tbsFields = split(tbs.content)
        guard let explicit = tbsFields.firstIndex(where: { $0.tag == extensionsTag }),
            let extensions = split(tbsFields[explicit].content).first
        else { return nil }
        let items = split(extensions.content).map { Array($0.whole) }
        guard let first = items.first else { return nil }
        fields[explicit] = encode(extensionsTag, encode(0x30, (items + [first]).flatMap { $0 }))
        let rest = split(certificate.content).dropFirst().flatMap { Array($0.whole) }
        return encode(0x30, encode(0x30, fields.flatMap { $0 }) + rest)
    }
}
