#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
// Pin the API level so deprecated 1.x entry points are hidden from Swift: EVP and providers only.
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ui.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <string.h>

// OPENSSL_free is a function-like macro (CRYPTO_free with __FILE__/__LINE__).
static inline void COpenSSL_free(void *ptr) { OPENSSL_free(ptr); }

// OPENSSL_cleanse is a function, but keep key zeroing behind one name.
static inline void COpenSSL_cleanse(void *ptr, size_t len) { OPENSSL_cleanse(ptr, len); }

// sk_X509_* and sk_X509_CRL_* are macros since 3.0: not importable.
static inline STACK_OF(X509) *COpenSSL_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int COpenSSL_sk_X509_push(STACK_OF(X509) *sk, X509 *x) { return sk_X509_push(sk, x); }
static inline int COpenSSL_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *COpenSSL_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
static inline void COpenSSL_sk_X509_pop_free(STACK_OF(X509) *sk) { sk_X509_pop_free(sk, X509_free); }
static inline STACK_OF(X509_CRL) *COpenSSL_sk_X509_CRL_new_null(void) { return sk_X509_CRL_new_null(); }
static inline int COpenSSL_sk_X509_CRL_push(STACK_OF(X509_CRL) *sk, X509_CRL *x) { return sk_X509_CRL_push(sk, x); }
static inline void COpenSSL_sk_X509_CRL_pop_free(STACK_OF(X509_CRL) *sk) { sk_X509_CRL_pop_free(sk, X509_CRL_free); }

// BIO_get_mem_data is a macro over BIO_ctrl.
static inline long COpenSSL_BIO_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }

// EVP_PKEY_CTX_set_hkdf_* are functions in 3.0, but the KDF mode constants are macros with casts.
static const int COpenSSL_EVP_PKEY_HKDEF_MODE_EXTRACT_AND_EXPAND = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;

// X509_get_notBefore/After are macros over the _getm_ functions.
static inline const ASN1_TIME *COpenSSL_X509_get0_notBefore(const X509 *x) { return X509_get0_notBefore(x); }
static inline const ASN1_TIME *COpenSSL_X509_get0_notAfter(const X509 *x) { return X509_get0_notAfter(x); }

// Key selections are macros built from other macros.
static const int COpenSSL_SELECT_PRIVATE_KEY = OSSL_KEYMGMT_SELECT_PRIVATE_KEY;
static const int COpenSSL_SELECT_PUBLIC_KEY = OSSL_KEYMGMT_SELECT_PUBLIC_KEY;
static const int COpenSSL_SELECT_KEYPAIR = EVP_PKEY_KEYPAIR;
static const int COpenSSL_SELECT_PUBLIC = EVP_PKEY_PUBLIC_KEY;

// A passphrase callback that refuses, so OpenSSL never prompts on a terminal.
static inline int COpenSSL_no_passphrase(char *pass, size_t size, size_t *len, const OSSL_PARAM params[], void *arg) {
    (void)pass; (void)size; (void)len; (void)params; (void)arg;
    return 0;
}
static inline int COpenSSL_decoder_refuse_passphrase(OSSL_DECODER_CTX *ctx) {
    return OSSL_DECODER_CTX_set_passphrase_cb(ctx, COpenSSL_no_passphrase, NULL);
}
// XN_FLAG_RFC2253 is a macro combining several flags; keep UTF-8 unescaped for readable names.
static const unsigned long COpenSSL_XN_FLAG_RFC2253_UTF8 = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
static inline int COpenSSL_sk_X509_REVOKED_num(const STACK_OF(X509_REVOKED) *sk) { return sk_X509_REVOKED_num(sk); }
static inline X509_REVOKED *COpenSSL_sk_X509_REVOKED_value(const STACK_OF(X509_REVOKED) *sk, int i) { return sk_X509_REVOKED_value(sk, i); }
// OSSL_PARAM keeps a pointer to its key name, so names must have static storage: a Swift String
// passed as `const char *` is a temporary. These helpers use the header's literal names.
static inline OSSL_PARAM COpenSSL_param_digest(char *name) { return OSSL_PARAM_construct_utf8_string(OSSL_ALG_PARAM_DIGEST, name, 0); }
static inline OSSL_PARAM COpenSSL_param_kdf_key(void *p, size_t n) { return OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, p, n); }
static inline OSSL_PARAM COpenSSL_param_kdf_salt(void *p, size_t n) { return OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, p, n); }
static inline OSSL_PARAM COpenSSL_param_kdf_info(void *p, size_t n) { return OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, p, n); }
static inline OSSL_PARAM COpenSSL_param_end(void) { return OSSL_PARAM_construct_end(); }
static inline int COpenSSL_bld_push_p256_private(OSSL_PARAM_BLD *bld, const BIGNUM *priv) {
    return OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv);
}
// 1 when an EC key names its curve; keys with explicit curve parameters are refused by ota.
static inline int COpenSSL_ec_uses_named_curve(const EVP_PKEY *pkey) {
    char encoding[32] = {0};
    size_t length = 0;
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, encoding, sizeof(encoding), &length)) return 0;
    return strcmp(encoding, OSSL_PKEY_EC_ENCODING_GROUP) == 0;
}
// Switches an EC or SM2 key to the uncompressed point form for every later encoding. OpenSSL
// remembers the form a point was decoded from (compressed, hybrid) and re-encodes in it, so
// one key would otherwise have several SubjectPublicKeyInfo encodings.
static inline int COpenSSL_ec_set_uncompressed(EVP_PKEY *pkey) {
    return EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                          OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED);
}
// sk_ASN1_OBJECT_* are macros (extended key usage lists).
static inline int COpenSSL_sk_ASN1_OBJECT_num(const STACK_OF(ASN1_OBJECT) *sk) { return sk_ASN1_OBJECT_num(sk); }
static inline ASN1_OBJECT *COpenSSL_sk_ASN1_OBJECT_value(const STACK_OF(ASN1_OBJECT) *sk, int i) { return sk_ASN1_OBJECT_value(sk, i); }
// RSA verification only (TUF repositories made by other tools): padding modes and the PSS
// salt-length sentinel are macros.
static const int COpenSSL_RSA_PKCS1_PADDING = RSA_PKCS1_PADDING;
static const int COpenSSL_RSA_PKCS1_PSS_PADDING = RSA_PKCS1_PSS_PADDING;
static const int COpenSSL_RSA_PSS_SALTLEN_AUTO = RSA_PSS_SALTLEN_AUTO;
// PKCS#11 keys (HSM signing). Debian 12 ships libp11 only as an OpenSSL ENGINE
// (libengine-pkcs11-openssl 0.4.12; no pkcs11-provider), an API that OpenSSL 3 deprecates and
// the API level above hides. These are its declarations from <openssl/engine.h>, for this one use.
ENGINE *ENGINE_by_id(const char *id);
int ENGINE_ctrl_cmd_string(ENGINE *e, const char *cmd_name, const char *arg, int cmd_optional);
int ENGINE_init(ENGINE *e);
int ENGINE_finish(ENGINE *e);
int ENGINE_free(ENGINE *e);
int ENGINE_get_flags(const ENGINE *e);
int ENGINE_set_flags(ENGINE *e, int flags);
EVP_PKEY *ENGINE_load_private_key(ENGINE *e, const char *key_id, UI_METHOD *ui_method, void *callback_data);
// ENGINE_FLAGS_NO_REGISTER_ALL: keeps an engine out of ENGINE_register_all_complete(), which
// libcurl's OpenSSL set-up calls; otherwise the pkcs11 engine becomes every EC key's backend.
static const int COpenSSL_ENGINE_FLAGS_NO_REGISTER_ALL = 0x0008;
#endif
