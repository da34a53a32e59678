import ArgumentParser
import OTACore

/// The issuing CA of `ota keys issue|renew|revoke`: its key (a file or a PKCS#11 URI) and certificate.
struct CAOptions: ParsableArguments {
    @Option(
        name: .customLong("ca-key"),
        help: "The CA's private key (PEM or DER), or a PKCS#11 URI (pkcs11:token=T;object=O?pin-source=FILE).")
    var key: String

    @Option(name: .customLong("ca-cert"), help: "The CA's certificate.")
    var certificate: String

    @OptionGroup var passphrase: PassphraseOptions

    func issuer() throws(OTAError) -> CertificateIssuer {
        let issuer = CertificateIssuer(
            key: try KeySource.load(key, passphrase: passphrase.source),
            certificate: try Certificate.load(contentsOf: certificate)[0])
        try issuer.checkIssuer()
        return issuer
    }
}

/// How long what `ota keys` issues is valid.
struct ValidityOptions: ParsableArguments {
    @Option(help: "Days of validity from now.")
    var days: Int = 365

    func validate() throws {
        guard (1...3660).contains(days) else { throw ValidationError("--days must be 1...3660") }
    }
}
