import Foundation
import OTACore

/// A client the service or its TLS front did not accept: no certificate, or a certificate
/// refused (unknown CA, expired, revoked, ...). Written to the refusal log like a refused upload
/// (`RefusalLog`), so a vehicle that cannot get in leaves a trace with the reason.
///
/// nginx refuses at the TLS level with 495/496 and, on that error path only, tells the service
/// in a body-less request (`/v1/front-refusals`, scripts/fleet-server.sh) with its verdict
/// (`$ssl_client_verify`: `NONE`, or `FAILED:` and OpenSSL's reason), the path asked for and the
/// certificate offered. The service's own certificate checks (`ClientIdentity.verify`) are
/// recorded the same way.
struct ClientRefusal: Sendable {
    /// `tls-front` (nginx) or `service`.
    var place: String
    var error: OTAError
    /// The path the client asked for.
    var path: String
    /// The VIN that path names, if it is a vehicle's.
    var vin: String?
    /// The subject the offered certificate names (not verified: it was refused), or `(none)`.
    var subject: String

    /// A short reason for the metrics' label: an error code (`certificate.expired`), `tls.none`,
    /// `tls.other`, or `fleet.client-certificate` when the cause is no code.
    var reason: String {
        if place == "tls-front", error.cause == "tls: none" { return "tls.none" }
        guard let cause = error.cause, !cause.isEmpty, cause.utf8.count <= 48,
            cause.utf8.allSatisfy({ (0x61...0x7a).contains($0) || $0 == 0x2e || $0 == 0x2d })
        else { return place == "tls-front" ? "tls.other" : error.code.rawValue }
        return cause
    }

    /// The refusal nginx reports: nil when `verdict` is not a refusal (every request nginx
    /// forwards on its normal path says `SUCCESS`), so nothing else can write a refusal line.
    static func fromFront(verdict: String?, path: String?, escapedCertificate: String?) -> ClientRefusal? {
        guard let verdict, verdict == "NONE" || verdict.hasPrefix("FAILED:") else { return nil }
        let reason = String(verdict.dropFirst("FAILED:".count).prefix(256))
        let error =
            verdict == "NONE"
            ? OTAError(
                .fleetClientCertificate,
                "no client certificate: the TLS front requires a vehicle or compliance certificate", cause: "tls: none")
            : OTAError(
                .fleetClientCertificate, "the TLS front refused the client certificate: \(reason)",
                cause: code(forTLSReason: reason) ?? "tls: \(reason)")
        return ClientRefusal(
            place: "tls-front", error: error, path: path ?? "", vin: vin(inPath: path ?? ""),
            subject: subject(escapedCertificate))
    }

    /// A refusal by the service's own check of the forwarded certificate.
    static func fromService(_ error: OTAError, path: String, escapedCertificate: String?) -> ClientRefusal {
        ClientRefusal(
            place: "service", error: error, path: path, vin: vin(inPath: path), subject: subject(escapedCertificate))
    }

    /// Our error code for OpenSSL's verification reasons that have one.
    static func code(forTLSReason reason: String) -> String? {
        switch reason {
        case "certificate has expired": OTAError.Code.certificateExpired.rawValue
        case "certificate is not yet valid": OTAError.Code.certificateNotYetValid.rawValue
        case "certificate revoked": OTAError.Code.certificateRevoked.rawValue
        case "certificate signature failure": OTAError.Code.certificateSignature.rawValue
        case "unsupported certificate purpose": OTAError.Code.certificateUsage.rawValue
        case "unable to get local issuer certificate", "unable to get issuer certificate",
            "unable to verify the first certificate", "self-signed certificate", "self signed certificate",
            "self-signed certificate in certificate chain", "self signed certificate in certificate chain":
            OTAError.Code.certificateUntrusted.rawValue
        default: nil
        }
    }

    /// The VIN of `/v1/vehicles/{vin}/...` (percent-decoded, at most 64 characters), else nil.
    static func vin(inPath path: String) -> String? {
        let parts = path.split(separator: "?", maxSplits: 1).first.map { $0.split(separator: "/") } ?? []
        guard parts.count >= 3, parts[0] == "v1", parts[1] == "vehicles",
            let vin = String(parts[2]).removingPercentEncoding, !vin.isEmpty, vin.utf8.count <= 64
        else { return nil }
        return vin
    }

    /// The subject of the offered certificate, `(none)` without one, `(unreadable)` if it does not parse.
    static func subject(_ escapedCertificate: String?) -> String {
        guard let escapedCertificate, !escapedCertificate.isEmpty else { return "(none)" }
        guard let leaf = try? ClientIdentity.single(escapedPEM: escapedCertificate, what: "offered certificate") else {
            return "(unreadable)"
        }
        return leaf.subject
    }
}
