internal import COpenSSL
internal import Foundation
internal import OTABase
internal import Synchronization

/// Loads private keys that stay in a PKCS#11 token (an HSM, a smart card, SoftHSM2) through
/// OpenSSL's `pkcs11` engine (libp11, Debian's `libengine-pkcs11-openssl`). The key object never
/// leaves the token: OpenSSL hands each signature to the module (`C_Sign`), and no key bytes
/// enter this process.
///
/// The engine is process-wide state in OpenSSL: one module per process (the first key's), calls
/// serialised by a lock.
enum PKCS11Engine {
    /// The module the engine was initialised with, once a key was loaded.
    private static let loadedModule = Mutex<String?>(nil)

    /// The module used when the URI names none: `OTA_PKCS11_MODULE`, else libp11's default (p11-kit's proxy).
    static var defaultModule: String? {
        ProcessInfo.processInfo.environment["OTA_PKCS11_MODULE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Loads the private key `uri` names, logging in with `pin`. No terminal prompt ever:
    /// OpenSSL's null UI answers any question the engine would ask.
    static func loadPrivateKey(_ uri: PKCS11URI, pin: [UInt8]) throws(OTAError) -> PKey {
        let module = uri.modulePath ?? defaultModule
        if let module, !FileManager.default.fileExists(atPath: module) {
            throw OTAError(.keyPKCS11, "\(uri.description): PKCS#11 module \(module) does not exist")
        }
        guard !pin.contains(0) else {
            throw OTAError(.keyPKCS11Pin, "\(uri.description): the token PIN holds a NUL byte")
        }
        return try loadedModule.withLock { loaded throws(OTAError) -> PKey in
            if let loaded, loaded != (module ?? "") {
                throw OTAError(
                    .keyPKCS11,
                    "\(uri.description): this process already uses PKCS#11 module \(loaded.isEmpty ? "p11-kit-proxy" : loaded); one module per command"
                )
            }
            OpenSSLErrorQueue.clear()
            guard let engine = ENGINE_by_id("pkcs11") else {
                throw OpenSSLErrorQueue.error(
                    .keyPKCS11, "\(uri.description): OpenSSL has no pkcs11 engine (install libengine-pkcs11-openssl)",
                    function: "ENGINE_by_id")
            }
            defer { ENGINE_free(engine) }
            // The engine stays in OpenSSL's engine list. Anyone calling ENGINE_register_all_complete()
            // afterwards (libcurl's OpenSSL set-up does) would make it the default for every EC key,
            // file keys included, which then fail ("unsupported key type", "command not supported"):
            // it must only ever serve the keys it loads.
            _ = ENGINE_set_flags(engine, ENGINE_get_flags(engine) | COpenSSL_ENGINE_FLAGS_NO_REGISTER_ALL)
            if let module {
                guard ENGINE_ctrl_cmd_string(engine, "MODULE_PATH", module, 0) == 1 else {
                    throw OpenSSLErrorQueue.error(
                        .keyPKCS11, "\(uri.description): the pkcs11 engine refused module \(module)",
                        function: "ENGINE_ctrl_cmd_string(MODULE_PATH)")
                }
            }
            var pinText = pin.map { CChar(bitPattern: $0) } + [0]
            defer { pinText.withUnsafeMutableBytes { COpenSSL_cleanse($0.baseAddress, $0.count) } }
            guard ENGINE_ctrl_cmd_string(engine, "PIN", pinText, 0) == 1 else {
                throw OpenSSLErrorQueue.error(
                    .keyPKCS11, "\(uri.description): the pkcs11 engine refused the PIN",
                    function: "ENGINE_ctrl_cmd_string(PIN)")
            }
            guard ENGINE_init(engine) == 1 else {
                throw OpenSSLErrorQueue.error(
                    .keyPKCS11, "\(uri.description): cannot initialise the pkcs11 engine", function: "ENGINE_init")
            }
            defer { ENGINE_finish(engine) }
            loaded = module ?? ""
            guard let key = ENGINE_load_private_key(engine, uri.selector, UI_null(), nil) else {
                throw OpenSSLErrorQueue.error(
                    .keyPKCS11,
                    "\(uri.description): no usable private key (no such token or object, a wrong PIN, or a key type the engine cannot use)",
                    function: "ENGINE_load_private_key")
            }
            // The key holds its own references to the engine; ours end with this scope.
            return try PKey(tokenKey: key, source: uri.description)
        }
    }
}
