// The registry of error codes: every code `ota` can report, its kind and its meaning.
// docs/ERRORS.md is generated from this list (`ota errors --markdown`); ErrorRegistryTests
// keeps the two, and the static members below, in step.

extension OTAError.Code {

    // MARK: activate
    public static let activateNothingInstalled = Self(
        "activate.nothing-installed", .rejected, "there is no installed update to activate")

    // MARK: approval
    public static let approvalBundleMismatch = Self(
        "approval.bundle-mismatch", .rejected, "the approval names another manifest digest than this bundle's")
    public static let approvalExpired = Self("approval.expired", .rejected, "the approval's validity has ended")
    public static let approvalInvalid = Self(
        "approval.invalid", .rejected,
        "the approval given for an automated-driving change was refused (the cause names the approval code)")
    public static let approvalMalformed = Self(
        "approval.malformed", .rejected, "the approval file is not a well-formed signed approval")
    public static let approvalMissing = Self(
        "approval.missing", .rejected, "the bundle changes an automated-driving function and no approval was given")
    public static let approvalModelMismatch = Self(
        "approval.model-mismatch", .rejected, "the approval does not cover this vehicle model")
    public static let approvalNotYetValid = Self(
        "approval.not-yet-valid", .rejected, "the approval's validity has not started")
    public static let approvalNumberMismatch = Self(
        "approval.number-mismatch", .rejected, "the approval's number is not an ad-approval reference of the manifest")
    public static let approvalUntrusted = Self(
        "approval.untrusted", .rejected, "the approval is not signed by a trusted approval authority")

    // MARK: archive
    public static let archiveInternal = Self(
        "archive.internal", .io, "libarchive could not be set up, or an archive was written out of order")
    public static let archiveWrite = Self("archive.write", .io, "writing the bundle archive failed")

    // MARK: boot-state
    public static let bootStateMalformed = Self(
        "boot-state.malformed", .rejected, "the file boot control state is malformed")

    // MARK: boot
    public static let bootEnvCrc = Self(
        "boot.env-crc", .rejected, "the U-Boot environment's CRC does not match its data")
    public static let bootEnvFull = Self(
        "boot.env-full", .rejected, "the boot environment block has no room for the variables")
    public static let bootEnvInvalid = Self(
        "boot.env-invalid", .rejected, "the boot environment block is not in the expected format")
    public static let bootFallback = Self(
        "boot.fallback", .rejected,
        "the bootloader fell back to the old slots (trial boot failed or tries ran out); recorded, update rolled back")
    public static let bootVariableName = Self(
        "boot.variable-name", .usage, "a boot variable name holds a character the environment cannot store")

    // MARK: bundle
    public static let bundleArchive = Self("bundle.archive", .rejected, "the bundle is not a readable tar archive")
    public static let bundleDuplicateEntry = Self(
        "bundle.duplicate-entry", .rejected, "an entry name appears twice in the bundle")
    public static let bundleEntryOrder = Self(
        "bundle.entry-order", .rejected, "bundle entries are not in the order the format fixes")
    public static let bundleEntrySize = Self(
        "bundle.entry-size", .rejected, "an entry's size differs from the size the manifest signs")
    public static let bundleEntryTooLarge = Self(
        "bundle.entry-too-large", .rejected, "a head entry (manifest, signatures, recipients) is larger than its limit")
    public static let bundleEntryType = Self(
        "bundle.entry-type", .rejected,
        "an entry is not a plain regular file (link, directory, device, extension header ...)")
    public static let bundleExtensionHeader = Self(
        "bundle.extension-header", .rejected, "the bundle holds a pax or GNU extension header; bundles are plain ustar")
    public static let bundleExtraEntry = Self(
        "bundle.extra-entry", .rejected, "the bundle holds an entry after the last signed payload")
    public static let bundleFraming = Self(
        "bundle.framing", .rejected, "the bytes after the last entry are not a clean end of archive")
    public static let bundleMissingEntry = Self(
        "bundle.missing-entry", .rejected, "an entry the format or the manifest requires is missing")
    public static let bundleNotABundle = Self(
        "bundle.not-a-bundle", .rejected,
        "the file is not an ota bundle (no tar, or a tar that does not start with manifest.json)")
    public static let bundleNotAFile = Self("bundle.not-a-file", .usage, "the bundle path is not a regular file")
    public static let bundleNotEncrypted = Self(
        "bundle.not-encrypted", .usage, "the operation needs an encrypted bundle")
    public static let bundleOrder = Self(
        "bundle.order", .usage, "library misuse: payloads were read before the head was verified")
    public static let bundleTrailingData = Self(
        "bundle.trailing-data", .rejected, "data follows the end-of-archive marker")
    public static let bundleTruncated = Self(
        "bundle.truncated", .rejected, "the bundle ends before its end-of-archive marker")
    public static let bundleTrustUpdateMismatch = Self(
        "bundle.trust-update-mismatch", .rejected,
        "the bundle's trust update is not the one its signed manifest names (added, dropped or swapped after signing)")
    public static let bundleUnexpectedEntry = Self(
        "bundle.unexpected-entry", .rejected, "an entry appears that the manifest does not name here")
    public static let bundleWrite = Self("bundle.write", .io, "a payload changed while the bundle was being written")

    // MARK: certificate
    public static let certificateExpired = Self(
        "certificate.expired", .rejected, "a certificate in the chain has expired (by the vehicle's trusted time)")
    public static let certificateInvalid = Self(
        "certificate.invalid", .rejected,
        "a certificate chain failed verification for another reason (the cause names OpenSSL's)")
    public static let certificateInvalidCa = Self(
        "certificate.invalid-ca", .rejected, "an issuer in the chain is not allowed to act as a CA")
    public static let certificateMalformed = Self(
        "certificate.malformed", .usage, "a certificate is not DER or PEM X.509")
    public static let certificateName = Self("certificate.name", .usage, "a certificate name field cannot be encoded")
    public static let certificateNotYetValid = Self(
        "certificate.not-yet-valid", .rejected, "a certificate in the chain is not valid yet")
    public static let certificateProfile = Self(
        "certificate.profile", .usage,
        "a CA will not issue this: the key, role or validity breaks its profile (suite, device key type, validity inside the CA's, at most 10 years)"
    )
    public static let certificateRevoked = Self(
        "certificate.revoked", .rejected, "a certificate in the chain is revoked by its CA's CRL")
    public static let certificateRole = Self(
        "certificate.role", .rejected,
        "the leaf certificate lacks the role's marker (extended key usage under the project arc) or carries another role's"
    )
    public static let certificateSignature = Self(
        "certificate.signature", .rejected, "a certificate's signature does not verify under its issuer")
    public static let certificateUntrusted = Self(
        "certificate.untrusted", .rejected, "the chain does not lead to an anchor of the role")
    public static let certificateUsage = Self(
        "certificate.usage", .rejected,
        "the leaf certificate's key usage or extended key usage does not allow this role")

    // MARK: confirm
    public static let confirmNotBooted = Self(
        "confirm.not-booted", .rejected, "the update cannot be confirmed before the vehicle has booted it")
    public static let confirmNothingPending = Self(
        "confirm.nothing-pending", .rejected, "there is no activated update to confirm")

    // MARK: consent
    public static let consentLanguage = Self(
        "consent.language", .rejected, "the consent names a language the notice does not have")
    public static let consentMissing = Self("consent.missing", .rejected, "the user has not answered the update notice")
    public static let consentRefused = Self("consent.refused", .rejected, "the user refused the update")
    public static let consentSkilledPerson = Self(
        "consent.skilled-person", .rejected, "the update needs a skilled person: a technician must confirm it")

    // MARK: crl
    public static let crlIssuer = Self("crl.issuer", .usage, "a CRL cannot be made without its CA certificate")
    public static let crlMalformed = Self("crl.malformed", .usage, "a CRL is not DER or PEM X.509")
    public static let crlMissing = Self("crl.missing", .rejected, "no CRL for a CA in the chain")
    public static let crlNotYetValid = Self(
        "crl.not-yet-valid", .rejected, "a CRL needed for the chain is not valid yet")
    public static let crlSignature = Self("crl.signature", .rejected, "a CRL's signature does not verify under its CA")
    public static let crlStale = Self(
        "crl.stale", .rejected,
        "a CRL needed for the chain is past its next update: refresh the revocation lists (the message says how)")

    // MARK: crypto
    public static let cryptoAuthentication = Self(
        "crypto.authentication", .rejected, "authenticated decryption failed (altered data, or another key)")
    public static let cryptoChunkAuthentication = Self(
        "crypto.chunk-authentication", .rejected,
        "a payload chunk failed authenticated decryption (altered, reordered or truncated)")
    public static let cryptoInternal = Self(
        "crypto.internal", .usage, "an OpenSSL call failed (the cause holds OpenSSL's error queue)")
    public static let cryptoKeyLength = Self(
        "crypto.key-length", .usage, "a key has the wrong length for its algorithm")
    public static let cryptoNonceLength = Self(
        "crypto.nonce-length", .usage, "a nonce or nonce prefix has the wrong length")
    public static let cryptoRandom = Self("crypto.random", .io, "the random number generator failed")
    public static let cryptoStreamExtra = Self(
        "crypto.stream-extra", .rejected, "encrypted data continues after the chunk marked last")
    public static let cryptoStreamFinished = Self(
        "crypto.stream-finished", .usage, "library misuse: a chunk was sealed after the last one")
    public static let cryptoStreamTooLong = Self(
        "crypto.stream-too-long", .usage, "a chunked stream would exceed 2^32 chunks")
    public static let cryptoStreamTruncated = Self(
        "crypto.stream-truncated", .rejected, "encrypted data ends before the chunk marked last")
    public static let cryptoUnavailable = Self("crypto.unavailable", .io, "OpenSSL lacks an algorithm this suite needs")

    // MARK: decrypt
    public static let decryptKeyMissing = Self(
        "decrypt.key-missing", .usage, "the bundle is encrypted and no decryption key was given")
    public static let decryptNotARecipient = Self(
        "decrypt.not-a-recipient", .rejected, "none of the given keys is a recipient of the bundle")

    // MARK: delta
    public static let deltaBodyTooLarge = Self(
        "delta.body-too-large", .rejected, "a patch stream decompresses to more than its frame declares")
    public static let deltaCorrupt = Self(
        "delta.corrupt", .rejected, "a patch stream is not valid LZMA2 data, or decodes to less than declared")
    public static let deltaDictionary = Self(
        "delta.dictionary", .usage, "a delta dictionary size is not a power of two in 4 KiB...256 MiB")
    public static let deltaDiffNotInstalled = Self(
        "delta.diff-not-installed", .io,
        "ota delta create: the ota-diff executable is neither beside ota nor on PATH")
    public static let deltaHeaderCorrupt = Self(
        "delta.header-corrupt", .rejected, "the delta patch header's check value does not match")
    public static let deltaHeaderInvalid = Self(
        "delta.header-invalid", .rejected, "the delta patch header holds a value this version does not know")
    public static let deltaMalformed = Self("delta.malformed", .rejected, "a number or field in the patch is malformed")
    public static let deltaMemoryLimit = Self(
        "delta.memory-limit", .rejected, "the patch needs more decoder memory than allowed")
    public static let deltaNotAPatch = Self("delta.not-a-patch", .rejected, "the file is not an ota delta patch")
    public static let deltaOutOfRange = Self(
        "delta.out-of-range", .rejected, "a patch operation reads outside the old image")
    public static let deltaOutputOverflow = Self(
        "delta.output-overflow", .rejected, "a patch operation writes past the declared new size")
    public static let deltaRecompressedInvalid = Self(
        "delta.recompressed-invalid", .rejected,
        "the patch's recompressed-streams block is malformed, exceeds the decoder's limits, or names a deflate stream that does not decode"
    )
    public static let deltaResultMismatch = Self(
        "delta.result-mismatch", .rejected, "the rebuilt image does not match the hash in the patch header")
    public static let deltaShortOutput = Self(
        "delta.short-output", .rejected, "the delta rebuilt fewer bytes than the manifest signs")
    public static let deltaSourceMismatch = Self(
        "delta.source-mismatch", .rejected, "the active slot does not hold the image the delta applies to")
    public static let deltaTargetMismatch = Self(
        "delta.target-mismatch", .rejected, "the patch rebuilds another image than the one the manifest signs")
    public static let deltaTooLong = Self("delta.too-long", .rejected, "the patch rebuilds more bytes than signed")
    public static let deltaTrailingData = Self(
        "delta.trailing-data", .rejected, "data follows the end of the patch body")
    public static let deltaTransformInvalid = Self(
        "delta.transform-invalid", .rejected,
        "the patch's reference transform block is malformed or exceeds the decoder's limits")
    public static let deltaTruncated = Self("delta.truncated", .rejected, "the patch ends early")
    public static let deltaUnknownOp = Self("delta.unknown-op", .rejected, "the patch holds an unknown operation")
    public static let deltaVersion = Self("delta.version", .rejected, "the delta patch format version is not supported")

    // MARK: digest
    public static let digestMalformed = Self(
        "digest.malformed", .usage, "a digest is not the expected number of hex digits")

    // MARK: export
    public static let exportSignerRole = Self(
        "export.signer-role", .rejected, "an export is signed by a key that does not chain to the compliance role")

    // MARK: filing
    public static let filingExpired = Self(
        "filing.expired", .rejected, "no regulatory reference of the needed type is valid now")
    public static let filingMissing = Self(
        "filing.missing", .rejected, "a change category needs a regulatory reference the manifest lacks")

    // MARK: fleet
    public static let fleetAckInvalid = Self(
        "fleet.ack-invalid", .rejected,
        "a fleet acknowledgement is malformed, not signed by a compliance-role key, or its signature does not verify")
    public static let fleetAckMismatch = Self(
        "fleet.ack-mismatch", .rejected,
        "a fleet acknowledgement names another VIN, log or entry than the vehicle's own")
    public static let fleetBusy = Self(
        "fleet.busy", .io, "the fleet service holds as many uploads as it may at once; the client tries again later")
    public static let fleetClientCertificate = Self(
        "fleet.client-certificate", .rejected,
        "the client certificate is missing, malformed, or does not chain to the anchors of its role")
    public static let fleetNotInstalled = Self(
        "fleet.not-installed", .io, "ota fleet: the ota-fleet executable is neither beside ota nor on PATH")
    public static let fleetRefused = Self(
        "fleet.refused", .rejected, "the fleet service refused the upload (the cause names the service's code)")
    public static let fleetRole = Self(
        "fleet.role", .rejected, "the client certificate holds another role than the endpoint serves")
    public static let fleetSignerCertificate = Self(
        "fleet.signer-certificate", .rejected,
        "an upload's log signer certificate is not a vehicle certificate of the fleet, or not of the log's key")
    public static let fleetUnreachable = Self(
        "fleet.unreachable", .io, "the fleet service could not be reached, or answered with a server error")
    public static let fleetUploadMalformed = Self(
        "fleet.upload-malformed", .rejected, "an uploaded log is not in the upload format (ota-fleet-upload/1)")
    public static let fleetUploadTooLarge = Self(
        "fleet.upload-too-large", .rejected, "an uploaded log is larger than the service accepts in one request")
    public static let fleetVinMismatch = Self(
        "fleet.vin-mismatch", .rejected, "a vehicle sent or asked for another VIN's log than its certificate names")

    // MARK: image
    public static let imageNotAFile = Self("image.not-a-file", .usage, "an image path is not a regular file")
    public static let imageOutsideDirectory = Self(
        "image.outside-directory", .usage, "an image resolves (through a symbolic link) outside the --images directory")
    public static let imageTooLarge = Self("image.too-large", .usage, "an image is larger than the format allows")

    // MARK: install
    public static let installBundleChanged = Self(
        "install.bundle-changed", .rejected, "the bundle's manifest changed between check and install")
    public static let installBusy = Self("install.busy", .rejected, "another installer holds the vehicle's lock")
    public static let installDeltaUnavailable = Self(
        "install.delta-unavailable", .rejected, "the bundle holds a delta and this installer has no delta applier")
    public static let installInterrupted = Self(
        "install.interrupted", .rejected,
        "an install was cut (power loss or kill) while writing; recorded at restart, slots discarded")
    public static let installPending = Self(
        "install.pending", .rejected, "an update is in progress; confirm or roll it back first")

    // MARK: io
    public static let ioCreate = Self("io.create", .io, "a file could not be created")
    public static let ioExists = Self("io.exists", .usage, "the output already exists")
    public static let ioFailed = Self("io.failed", .io, "a system call failed (the cause holds errno's text)")
    public static let ioFsync = Self("io.fsync", .io, "fsync failed")
    public static let ioMap = Self("io.map", .io, "a file could not be mapped into memory")
    public static let ioMkdir = Self("io.mkdir", .io, "a directory could not be created")
    public static let ioNameNotUTF8 = Self(
        "io.name-not-utf8", .io, "a directory holds an entry whose name is not UTF-8 (shown with \\xNN escapes)")
    public static let ioNotAFile = Self(
        "io.not-a-file", .usage, "the path is a directory, FIFO, socket or device where a regular file is needed")
    public static let ioNotFound = Self("io.not-found", .usage, "a file or directory does not exist")
    public static let ioOpen = Self("io.open", .io, "a file could not be opened")
    public static let ioOutputIsInput = Self(
        "io.output-is-input", .usage, "the output path names one of the command's inputs, which it would replace")
    public static let ioOverwrite = Self("io.overwrite", .usage, "library misuse: an overwrite past the written end")
    public static let ioRename = Self("io.rename", .io, "an atomic rename failed")
    public static let ioShortRead = Self(
        "io.short-read", .io, "a file ended before its expected size (changed while reading?)")
    public static let ioTooLarge = Self("io.too-large", .io, "a file is larger than the limit for its kind")
    public static let ioTruncate = Self("io.truncate", .io, "truncate failed")
    public static let ioUnlink = Self("io.unlink", .io, "a file could not be removed")
    public static let ioWrite = Self("io.write", .io, "a write failed")

    // MARK: json
    public static let jsonEncode = Self("json.encode", .usage, "a value could not be encoded as JSON")

    // MARK: key
    public static let keyAgreementMismatch = Self(
        "key.agreement-mismatch", .usage, "key agreement needs two keys of the same kind")
    public static let keyAgreementPeer = Self(
        "key.agreement-peer", .rejected, "the peer's public key is not usable for key agreement")
    public static let keyCannotSign = Self("key.cannot-sign", .usage, "the key type cannot sign")
    public static let keyCertificateMismatch = Self(
        "key.certificate-mismatch", .usage, "the private key does not belong to the certificate")
    public static let keyMalformed = Self(
        "key.malformed", .usage, "a key or certificate file does not hold what it should")
    public static let keyPassphrase = Self("key.passphrase", .usage, "wrong passphrase, or a damaged encrypted key")
    public static let keyPassphraseEmpty = Self("key.passphrase-empty", .usage, "the passphrase file is empty")
    public static let keyPassphraseMissing = Self(
        "key.passphrase-missing", .usage, "the passphrase environment variable is not set")
    public static let keyPassphraseRequired = Self(
        "key.passphrase-required", .usage, "the private key is encrypted and no passphrase was given")
    public static let keyPKCS11 = Self(
        "key.pkcs11", .io,
        "the PKCS#11 engine, module, token or key could not be used (not installed, no such token or object, wrong PIN)"
    )
    public static let keyPKCS11Pin = Self(
        "key.pkcs11-pin", .usage,
        "a PKCS#11 key needs the token PIN: pin-source or pin-value in the URI, or --passphrase-file/--passphrase-env")
    public static let keyPKCS11URI = Self(
        "key.pkcs11-uri", .usage, "a PKCS#11 URI is malformed or names attributes the engine cannot match (RFC 7512)")
    public static let keySuiteMismatch = Self(
        "key.suite-mismatch", .usage, "the signer's key does not belong to the bundle's suite")
    public static let keyUnsupported = Self("key.unsupported", .usage, "the key type is not supported here")

    // MARK: keywrap
    public static let keywrapKeyMismatch = Self(
        "keywrap.key-mismatch", .rejected, "the recipient key does not fit the wrapped key's scheme")
    public static let keywrapMalformed = Self("keywrap.malformed", .rejected, "a wrapped content key is malformed")

    // MARK: manifest
    public static let manifestEncoding = Self("manifest.encoding", .usage, "the manifest source is not UTF-8 text")
    public static let manifestExpired = Self("manifest.expired", .rejected, "the bundle's manifest has expired")
    public static let manifestInvalid = Self(
        "manifest.invalid", .usage,
        "the manifest source breaks the format rules (every problem is listed with its field path)")
    public static let manifestMalformed = Self(
        "manifest.malformed", .rejected, "the signed manifest is not the JSON the format defines")
    public static let manifestNotYetValid = Self(
        "manifest.not-yet-valid", .rejected,
        "the manifest's created time lies further ahead of the vehicle's clock than the allowed skew")
    public static let manifestRules = Self("manifest.rules", .rejected, "the signed manifest breaks the format rules")
    public static let manifestSyntax = Self("manifest.syntax", .usage, "the manifest source is not valid YAML or JSON")

    // MARK: payload
    public static let payloadChunkHash = Self(
        "payload.chunk-hash", .rejected, "a payload chunk does not match its signed hash")
    public static let payloadHash = Self(
        "payload.hash", .rejected, "a decoded payload does not match its signed content hash")
    public static let payloadSize = Self("payload.size", .rejected, "a decoded payload has another size than signed")
    public static let payloadTooLong = Self(
        "payload.too-long", .rejected, "a payload decodes to more than its signed size")
    public static let payloadTruncated = Self("payload.truncated", .rejected, "a payload ends before its signed size")

    // MARK: precondition
    public static let preconditionBattery = Self(
        "precondition.battery", .rejected, "the battery is below the level the update and a recovery need")
    public static let preconditionDoors = Self("precondition.doors", .rejected, "the doors must stay unlockable")
    public static let preconditionDriving = Self("precondition.driving", .rejected, "the vehicle is being driven")
    public static let preconditionGear = Self("precondition.gear", .rejected, "the vehicle is not in the required gear")
    public static let preconditionParked = Self("precondition.parked", .rejected, "the vehicle is not parked")
    public static let preconditionReading = Self(
        "precondition.reading", .rejected,
        "a vehicle reading is out of its range (battery 0...100 %, a gear of A-Z 0-9)")
    public static let preconditionUnknown = Self(
        "precondition.unknown", .rejected,
        "no vehicle state was given, or it lacks a reading the preconditions need, so they cannot be checked")

    // MARK: recipient
    public static let recipientSuiteMismatch = Self(
        "recipient.suite-mismatch", .usage, "a recipient's key cannot be used in the bundle's suite")

    // MARK: recipients
    public static let recipientsMalformed = Self("recipients.malformed", .rejected, "the recipients block is malformed")

    // MARK: record
    public static let recordIo = Self("record.io", .io, "the install record file could not be written")
    public static let recordMalformed = Self(
        "record.malformed", .rejected, "a line of the install record file is malformed")

    // MARK: records
    public static let recordsAckMismatch = Self(
        "records.ack-mismatch", .rejected, "an acknowledgement names an entry hash the log does not have")
    public static let recordsBehindStore = Self(
        "records.behind-store", .rejected, "an ingested log ends before the entry the store already holds (cut back)")
    public static let recordsBusy = Self("records.busy", .io, "another process is writing the record log")
    public static let recordsChainDiscontinuous = Self(
        "records.chain-discontinuous", .rejected, "an ingested log does not continue from the entry the store holds")
    public static let recordsChainFork = Self(
        "records.chain-fork", .rejected, "an ingested log differs from the stored chain (a fork)")
    public static let recordsChanged = Self(
        "records.changed", .rejected, "an entry of the record log differs from what was chained")
    public static let recordsCheckpointSignature = Self(
        "records.checkpoint-signature", .rejected, "a checkpoint signature does not verify under the device key")
    public static let recordsDeleted = Self("records.deleted", .rejected, "entries are missing from the record log")
    public static let recordsEvidence = Self(
        "records.evidence", .rejected,
        "an export's chain evidence does not verify against the vehicle's device certificate")
    public static let recordsExists = Self("records.exists", .usage, "the directory already holds a record log")
    public static let recordsExportAltered = Self(
        "records.export-altered", .rejected, "an export's files do not match its signed manifest")
    public static let recordsExportEmpty = Self("records.export-empty", .usage, "nothing matches the export's filter")
    public static let recordsExportExists = Self(
        "records.export-exists", .usage, "the export directory already exists (replace it only when asked)")
    public static let recordsExportFormat = Self("records.export-format", .usage, "no export format was chosen")
    public static let recordsExportMalformed = Self(
        "records.export-malformed", .rejected, "an export's manifest or signature is malformed")
    public static let recordsExportUnsigned = Self(
        "records.export-unsigned", .rejected, "an export has no manifest.sig")
    public static let recordsFieldMissing = Self(
        "records.field-missing", .usage, "a required record field is missing or empty")
    public static let recordsFieldRange = Self("records.field-range", .usage, "a record field is out of its range")
    public static let recordsFieldType = Self("records.field-type", .usage, "a record field has the wrong type")
    public static let recordsFieldUnknown = Self(
        "records.field-unknown", .usage, "a field that records may not hold (location, names, anything unlisted)")
    public static let recordsHeadMoved = Self(
        "records.head-moved", .io,
        "another writer moved the vehicle's stored head during an ingest (retried; seen only when that keeps happening)"
    )
    public static let recordsInputInvalid = Self(
        "records.input-invalid", .usage, "a record given to append is not a JSON object")
    public static let recordsInserted = Self(
        "records.inserted", .rejected, "the record log holds an entry that does not belong to its chain")
    public static let recordsKey = Self("records.key", .usage, "the device key cannot sign record checkpoints")
    public static let recordsKeyChanged = Self(
        "records.key-changed", .rejected, "the log is signed by another device key than the store knows for the vehicle"
    )
    public static let recordsKeyMismatch = Self(
        "records.key-mismatch", .rejected, "the log names another device key than the one given")
    public static let recordsMalformed = Self(
        "records.malformed", .rejected, "the record log or a stored entry is malformed")
    public static let recordsMeta = Self(
        "records.meta", .rejected, "a log's log.json is malformed or disagrees with its chain")
    public static let recordsPseudonymKey = Self(
        "records.pseudonym-key", .usage, "the VIN pseudonymisation key is too short")
    public static let recordsPurgeClock = Self(
        "records.purge-clock", .rejected,
        "a purge's clock runs far ahead of the store's own history; an override must be given and is recorded")
    public static let recordsReordered = Self(
        "records.reordered", .rejected, "entries of the record log are out of order")
    public static let recordsRetention = Self(
        "records.retention", .rejected, "deleting these records would break the retention rule")
    public static let recordsRetentionMinimum = Self(
        "records.retention-minimum", .usage, "the retention asked for is below the legal minimum")
    public static let recordsRotationRevoked = Self(
        "records.rotation-revoked", .rejected,
        "a device-key rotation is signed by a key whose certificate was revoked by then")
    public static let recordsRotationUntrusted = Self(
        "records.rotation-untrusted", .rejected,
        "a device-key rotation announces a key without a trusted vehicle-role certificate")
    public static let recordsSchema = Self(
        "records.schema", .rejected,
        "an entry's JSON breaks the record schema (unknown field, wrong type, number out of range)")
    public static let recordsSegmentName = Self(
        "records.segment-name", .rejected, "a segment's name does not match its first entry (a renamed segment)")
    public static let recordsStore = Self("records.store", .io, "the fleet record store could not be opened")
    public static let recordsStoreMissing = Self("records.store-missing", .io, "the fleet record store does not exist")
    public static let recordsTornTail = Self(
        "records.torn-tail", .rejected, "a record log segment ends in an incomplete line (a crash while writing)")
    public static let recordsTruncated = Self(
        "records.truncated", .rejected, "the record log ends before its last signed checkpoint")
    public static let recordsUnanchored = Self(
        "records.unanchored", .rejected, "the record log does not start at entry 0 or at a signed checkpoint")
    public static let recordsUnsigned = Self(
        "records.unsigned", .rejected, "too many entries follow the last signed checkpoint")
    public static let recordsVin = Self("records.vin", .usage, "a VIN holds characters it may not")
    public static let recordsVinMismatch = Self(
        "records.vin-mismatch", .usage, "a record for another VIN was appended to the log")
    public static let recordsWrongKey = Self(
        "records.wrong-key", .usage, "the log was opened with another device key than it is signed with")

    // MARK: repo
    public static let repoBundle = Self(
        "repo.bundle", .rejected, "a bundle given to the repository does not verify against the release trust store")
    public static let repoConfig = Self(
        "repo.config", .usage, "the repository's own files (repository.json, staged metadata) are missing or malformed")
    public static let repoKey = Self("repo.key", .usage, "a repository key file does not hold the key its name says")
    public static let repoRole = Self(
        "repo.role", .usage, "no such role in the repository, or the operation does not apply to it")
    public static let repoTargetMissing = Self(
        "repo.target-missing", .rejected, "a target the metadata lists has no file in the repository")
    public static let repoTargetName = Self(
        "repo.target-name", .usage, "a target name is not a relative path of plain parts")
    public static let repoTargetUnknown = Self("repo.target-unknown", .usage, "the role lists no target of that name")

    // MARK: repository
    public static let repositoryMismatch = Self(
        "repository.mismatch", .rejected,
        "the repository's target entry and the release-signed bundle disagree (two hierarchies)")
    public static let repositoryRequired = Self(
        "repository.required", .rejected,
        "the vehicle installs only bundles its TUF repository lists, and this one came without an entry")

    // MARK: request
    public static let requestMalformed = Self(
        "request.malformed", .usage, "a certificate request (PKCS#10) is not one DER or PEM request ota can read")
    public static let requestSignature = Self(
        "request.signature", .rejected,
        "a certificate request is not signed by the key it carries (no proof of possession)")

    // MARK: rollback
    public static let rollbackNothingPending = Self(
        "rollback.nothing-pending", .rejected, "there is no update in progress to roll back")
    public static let rollbackRequested = Self(
        "rollback.requested", .rejected, "an update was rolled back on request; recorded")
    public static let rollbackSecurityVersion = Self(
        "rollback.security-version", .rejected, "an image's security version is below the ECU's (anti-rollback)")
    public static let rollbackVersion = Self(
        "rollback.version", .rejected,
        "an image's version is older than the ECU's and the manifest does not allow a downgrade")
    public static let rollbackVersionUnordered = Self(
        "rollback.version-unordered", .rejected,
        "the offered or installed version cannot be ordered, so the no-downgrade rule cannot be applied")

    // MARK: signature
    public static let signatureAlgorithmMismatch = Self(
        "signature.algorithm-mismatch", .rejected, "a signature's algorithm does not fit its certificate's key")
    public static let signatureAlgorithmUnknown = Self(
        "signature.algorithm-unknown", .rejected, "a signature names an unknown algorithm")
    public static let signatureCertificates = Self(
        "signature.certificates", .rejected, "a signature carries no, too many, or unreadable certificates")
    public static let signatureDuplicate = Self(
        "signature.duplicate", .usage, "the bundle is already signed by this signer")
    public static let signatureDuplicateSigner = Self(
        "signature.duplicate-signer", .rejected,
        "the threshold is missed because one signer (same key, signer id or name) signed more than once")
    public static let signatureEncoding = Self("signature.encoding", .rejected, "a signature is not base64")
    public static let signatureFailed = Self("signature.failed", .usage, "signing failed")
    public static let signatureInvalid = Self(
        "signature.invalid", .rejected, "a signature does not verify over the document")
    public static let signatureMissing = Self("signature.missing", .rejected, "the document carries no signature")
    public static let signaturePayloadType = Self(
        "signature.payload-type", .rejected, "the envelope's payload type is not the document's")
    public static let signatureSuiteMismatch = Self(
        "signature.suite-mismatch", .rejected, "a signature's algorithm does not belong to the bundle's suite")
    public static let signatureThreshold = Self(
        "signature.threshold", .rejected, "fewer distinct trusted signers than the policy requires (two-person rule)")
    public static let signatureTooMany = Self("signature.too-many", .rejected, "more signatures than the format allows")

    // MARK: signatures
    public static let signaturesMalformed = Self(
        "signatures.malformed", .rejected, "the signature envelope is not the JSON the format defines")

    // MARK: slot
    public static let slotHashMismatch = Self(
        "slot.hash-mismatch", .rejected, "a slot's content does not match the signed image hash")
    public static let slotIo = Self("slot.io", .io, "reading or writing a slot failed")
    public static let slotShort = Self("slot.short", .io, "a slot ends before the expected size")
    public static let slotTooSmall = Self("slot.too-small", .rejected, "the image does not fit the slot")

    // MARK: suite
    public static let suiteUnknown = Self("suite.unknown", .usage, "an unknown crypto suite (intl or gm)")

    // MARK: target
    public static let targetEcu = Self("target.ecu", .rejected, "the vehicle has no ECU the image names")
    public static let targetHardwareId = Self(
        "target.hardware-id", .rejected, "the image is not for this ECU's hardware")
    public static let targetModel = Self("target.model", .rejected, "the bundle does not target this vehicle model")
    public static let targetSlotGroup = Self(
        "target.slot-group", .rejected, "the image names a slot group that is not its ECU's, or two images share one")
    public static let targetSlotSize = Self("target.slot-size", .rejected, "the image is larger than its slot")
    public static let targetSuite = Self(
        "target.suite", .rejected, "the bundle's crypto suite is not the one the vehicle is configured for")
    public static let targetVin = Self("target.vin", .rejected, "the vehicle's VIN is not in the bundle's VIN list")

    // MARK: transport
    public static let transportChunkHash = Self(
        "transport.chunk-hash", .rejected,
        "a downloaded chunk failed its signed hash twice; the download was refused and discarded")
    public static let transportChunkList = Self(
        "transport.chunk-list", .rejected, "a target's signed chunk list does not fit its length")
    public static let transportClientIdentity = Self(
        "transport.client-identity", .usage, "the vehicle's TLS certificate or key is missing, malformed or not a pair")
    public static let transportClientRejected = Self(
        "transport.client-rejected", .rejected,
        "the server refused the vehicle's certificate (none, untrusted, revoked)")
    public static let transportFailed = Self(
        "transport.failed", .io, "the connection failed or dropped (retried with back-off first)")
    public static let transportHTTPStatus = Self(
        "transport.http-status", .io, "the server answered with an unexpected HTTP status")
    public static let transportNotFound = Self(
        "transport.not-found", .io, "the server has no such file (HTTP 404 or 403, or no such local file)")
    public static let transportPlainHTTP = Self(
        "transport.plain-http", .usage, "a plain http:// URL without the explicit test-bench flag, or another scheme")
    public static let transportServerError = Self(
        "transport.server-error", .io, "the server answered 5xx (retried with back-off first)")
    public static let transportTLS = Self(
        "transport.tls", .rejected, "the server's certificate does not chain to the pinned CA, or the handshake failed")
    public static let transportTimeout = Self(
        "transport.timeout", .io, "the transfer stalled or was too slow (slow retrieval; retried first)")
    public static let transportTooLong = Self(
        "transport.too-long", .rejected, "the server sent more bytes than the target's signed length; nothing kept")

    // MARK: trust
    public static let trustEmpty = Self("trust.empty", .rejected, "the trust store has no anchors for the role")
    public static let trustMalformed = Self(
        "trust.malformed", .usage,
        "a trust store file (trust.json, a certificate or CRL) is malformed, or the store is too large")
    public static let trustMissing = Self("trust.missing", .rejected, "the trust store directory does not exist")
    public static let trustTampered = Self(
        "trust.tampered", .rejected,
        "the vehicle's trust store differs from the one its protected state records (changed outside a trust update)")
    public static let trustUpdateExpired = Self(
        "trust.update-expired", .rejected, "the trust update is past its expiry")
    public static let trustUpdateInvalid = Self(
        "trust.update-invalid", .rejected,
        "the trust update would retire an unknown anchor, add a non-root, leave a role without anchors or set an impossible threshold"
    )
    public static let trustUpdateMalformed = Self(
        "trust.update-malformed", .rejected, "the trust update is not the signed JSON the format defines")
    public static let trustUpdateThreshold = Self(
        "trust.update-threshold", .rejected,
        "too few of a changed role's current root keys signed the trust update, or a new anchor's key did not sign it")
    public static let trustUpdateVersion = Self(
        "trust.update-version", .rejected,
        "the trust update's version is not above the store's (an old or replayed update), or more than 1,000 above it")

    // MARK: tuf
    public static let tufExpired = Self(
        "tuf.expired", .rejected, "TUF metadata has expired (freeze attack, or a repository not re-signed in time)")
    public static let tufHashMismatch = Self(
        "tuf.hash-mismatch", .rejected, "a downloaded file does not match the hash its TUF metadata signs")
    public static let tufHashUnsupported = Self(
        "tuf.hash-unsupported", .rejected,
        "TUF metadata lists no hash algorithm this client can check (sha256, sha384, sha512, sm3)")
    public static let tufJSON = Self(
        "tuf.json", .rejected, "TUF metadata is not strict JSON (duplicate names, floats, bad UTF-8, too deep ...)")
    public static let tufKeyUnsupported = Self(
        "tuf.key-unsupported", .rejected, "a TUF key type or scheme this client cannot verify")
    public static let tufLengthMismatch = Self(
        "tuf.length-mismatch", .rejected, "a downloaded file's length differs from the length its TUF metadata signs")
    public static let tufMetadata = Self(
        "tuf.metadata", .rejected,
        "TUF metadata breaks the specification's format (a field missing, of the wrong type or out of range)")
    public static let tufNotInitialized = Self(
        "tuf.not-initialized", .usage, "the TUF client has no trusted root (initialise it with a root.json)")
    public static let tufRoleMissing = Self(
        "tuf.role-missing", .rejected, "the snapshot does not list a targets role that is needed")
    public static let tufRollback = Self(
        "tuf.rollback", .rejected, "TUF metadata is older than what the client already trusts (rollback or replay)")
    public static let tufSignatureThreshold = Self(
        "tuf.signature-threshold", .rejected, "fewer valid signatures from a role's keys than its threshold")
    public static let tufTargetNotFound = Self(
        "tuf.target-not-found", .rejected, "no trusted targets role lists the target")
    public static let tufTooLarge = Self(
        "tuf.too-large", .rejected, "a download is larger than its limit (endless data)")
    public static let tufVersionMismatch = Self(
        "tuf.version-mismatch", .rejected,
        "metadata holds another version than the role that lists it names (mix-and-match)")

    // MARK: usage
    public static let usageApprovalId = Self("usage.approval-id", .usage, "the approval id is empty")
    public static let usageChunkSize = Self("usage.chunk-size", .usage, "the chunk size is out of range")
    public static let usageInvalid = Self("usage.invalid", .usage, "a command-line argument is invalid")
    public static let usageModels = Self("usage.models", .usage, "no vehicle model was given")
    public static let usageRole = Self("usage.role", .usage, "an unknown trust role")
    public static let usageSignerId = Self(
        "usage.signer-id", .usage, "a vehicle certificate is issued without its VIN (17 characters) as signer id")
    public static let usageTime = Self("usage.time", .usage, "a time argument is not ISO 8601")
    public static let usageValidUntil = Self("usage.valid-until", .usage, "the end of validity is not after its start")

    // MARK: vehicle-config
    public static let vehicleConfigMalformed = Self(
        "vehicle-config.malformed", .usage, "the vehicle's configuration file is malformed")

    // MARK: vehicle-state
    public static let vehicleStateMalformed = Self(
        "vehicle-state.malformed", .usage, "a vehicle state file (readings or installer state) is malformed")

    // MARK: vehicle
    public static let vehicleConfigInvalid = Self(
        "vehicle.config-invalid", .usage, "the vehicle configuration is invalid")
    public static let vehicleConfigTampered = Self(
        "vehicle.config-tampered", .rejected,
        "the vehicle's configuration differs from what the installer sealed at init (edited outside the installer)")
    public static let vehicleExists = Self("vehicle.exists", .usage, "the directory is already a vehicle")
    public static let vehicleNotFound = Self("vehicle.not-found", .usage, "the directory is not a vehicle directory")
    public static let vehiclePrivateDir = Self(
        "vehicle.private-dir", .rejected, "the installer's private directory is a link, not a directory, or not private"
    )
    public static let vehicleStateMissing = Self("vehicle.state-missing", .usage, "the vehicle has no installer state")
    public static let vehicleStateTampered = Self(
        "vehicle.state-tampered", .rejected,
        "the installer's protected state (counters, clock floor, seals) fails its integrity check, or its seal key is missing"
    )

    // MARK: xz
    public static let xzCorrupt = Self("xz.corrupt", .rejected, "compressed data is corrupt")
    public static let xzDictionary = Self("xz.dictionary", .usage, "the xz dictionary size is out of range")
    public static let xzFailed = Self("xz.failed", .rejected, "liblzma failed")
    public static let xzFormat = Self("xz.format", .rejected, "the data is not xz")
    public static let xzMemoryLimit = Self(
        "xz.memory-limit", .rejected, "the compressed stream needs more decoder memory than allowed")
    public static let xzOptions = Self(
        "xz.options", .rejected, "the compressed stream uses options this decoder refuses")
    public static let xzOutOfMemory = Self("xz.out-of-memory", .io, "liblzma ran out of memory")
    public static let xzOutputLimit = Self(
        "xz.output-limit", .rejected, "compressed data decompresses to more than allowed")
    public static let xzPreset = Self("xz.preset", .usage, "the xz preset is not 0...9")
    public static let xzSettings = Self("xz.settings", .usage, "the LZMA2 encoder settings are out of range")
    public static let xzTrailingData = Self("xz.trailing-data", .rejected, "data follows the end of the xz stream")
    public static let xzTruncated = Self("xz.truncated", .rejected, "the xz stream ends early")

    /// Every registered code, sorted by name (one per line, so that additions merge cleanly).
    public static let registry: [Self] = [
        .activateNothingInstalled,
        .approvalBundleMismatch,
        .approvalExpired,
        .approvalInvalid,
        .approvalMalformed,
        .approvalMissing,
        .approvalModelMismatch,
        .approvalNotYetValid,
        .approvalNumberMismatch,
        .approvalUntrusted,
        .archiveInternal,
        .archiveWrite,
        .bootStateMalformed,
        .bootEnvCrc,
        .bootEnvFull,
        .bootEnvInvalid,
        .bootFallback,
        .bootVariableName,
        .bundleArchive,
        .bundleDuplicateEntry,
        .bundleEntryOrder,
        .bundleEntrySize,
        .bundleEntryTooLarge,
        .bundleEntryType,
        .bundleExtensionHeader,
        .bundleExtraEntry,
        .bundleFraming,
        .bundleMissingEntry,
        .bundleNotABundle,
        .bundleNotAFile,
        .bundleNotEncrypted,
        .bundleOrder,
        .bundleTrailingData,
        .bundleTruncated,
        .bundleTrustUpdateMismatch,
        .bundleUnexpectedEntry,
        .bundleWrite,
        .certificateExpired,
        .certificateInvalid,
        .certificateInvalidCa,
        .certificateMalformed,
        .certificateName,
        .certificateNotYetValid,
        .certificateProfile,
        .certificateRevoked,
        .certificateRole,
        .certificateSignature,
        .certificateUntrusted,
        .certificateUsage,
        .confirmNotBooted,
        .confirmNothingPending,
        .consentLanguage,
        .consentMissing,
        .consentRefused,
        .consentSkilledPerson,
        .crlIssuer,
        .crlMalformed,
        .crlMissing,
        .crlNotYetValid,
        .crlSignature,
        .crlStale,
        .cryptoAuthentication,
        .cryptoChunkAuthentication,
        .cryptoInternal,
        .cryptoKeyLength,
        .cryptoNonceLength,
        .cryptoRandom,
        .cryptoStreamExtra,
        .cryptoStreamFinished,
        .cryptoStreamTooLong,
        .cryptoStreamTruncated,
        .cryptoUnavailable,
        .decryptKeyMissing,
        .decryptNotARecipient,
        .deltaBodyTooLarge,
        .deltaCorrupt,
        .deltaDictionary,
        .deltaDiffNotInstalled,
        .deltaHeaderCorrupt,
        .deltaHeaderInvalid,
        .deltaMalformed,
        .deltaMemoryLimit,
        .deltaNotAPatch,
        .deltaOutOfRange,
        .deltaOutputOverflow,
        .deltaRecompressedInvalid,
        .deltaResultMismatch,
        .deltaShortOutput,
        .deltaSourceMismatch,
        .deltaTargetMismatch,
        .deltaTooLong,
        .deltaTrailingData,
        .deltaTransformInvalid,
        .deltaTruncated,
        .deltaUnknownOp,
        .deltaVersion,
        .digestMalformed,
        .exportSignerRole,
        .filingExpired,
        .filingMissing,
        .fleetAckInvalid,
        .fleetAckMismatch,
        .fleetBusy,
        .fleetClientCertificate,
        .fleetNotInstalled,
        .fleetRefused,
        .fleetRole,
        .fleetSignerCertificate,
        .fleetUnreachable,
        .fleetUploadMalformed,
        .fleetUploadTooLarge,
        .fleetVinMismatch,
        .imageNotAFile,
        .imageOutsideDirectory,
        .imageTooLarge,
        .installBundleChanged,
        .installBusy,
        .installDeltaUnavailable,
        .installInterrupted,
        .installPending,
        .ioCreate,
        .ioExists,
        .ioFailed,
        .ioFsync,
        .ioMap,
        .ioMkdir,
        .ioNameNotUTF8,
        .ioNotAFile,
        .ioNotFound,
        .ioOpen,
        .ioOutputIsInput,
        .ioOverwrite,
        .ioRename,
        .ioShortRead,
        .ioTooLarge,
        .ioTruncate,
        .ioUnlink,
        .ioWrite,
        .jsonEncode,
        .keyAgreementMismatch,
        .keyAgreementPeer,
        .keyCannotSign,
        .keyCertificateMismatch,
        .keyMalformed,
        .keyPassphrase,
        .keyPassphraseEmpty,
        .keyPassphraseMissing,
        .keyPassphraseRequired,
        .keyPKCS11,
        .keyPKCS11Pin,
        .keyPKCS11URI,
        .keySuiteMismatch,
        .keyUnsupported,
        .keywrapKeyMismatch,
        .keywrapMalformed,
        .manifestEncoding,
        .manifestExpired,
        .manifestInvalid,
        .manifestMalformed,
        .manifestNotYetValid,
        .manifestRules,
        .manifestSyntax,
        .payloadChunkHash,
        .payloadHash,
        .payloadSize,
        .payloadTooLong,
        .payloadTruncated,
        .preconditionBattery,
        .preconditionDoors,
        .preconditionDriving,
        .preconditionGear,
        .preconditionParked,
        .preconditionReading,
        .preconditionUnknown,
        .recipientSuiteMismatch,
        .recipientsMalformed,
        .recordIo,
        .recordMalformed,
        .recordsAckMismatch,
        .recordsBehindStore,
        .recordsBusy,
        .recordsChainDiscontinuous,
        .recordsChainFork,
        .recordsChanged,
        .recordsCheckpointSignature,
        .recordsDeleted,
        .recordsEvidence,
        .recordsExists,
        .recordsExportAltered,
        .recordsExportEmpty,
        .recordsExportExists,
        .recordsExportFormat,
        .recordsExportMalformed,
        .recordsExportUnsigned,
        .recordsFieldMissing,
        .recordsFieldRange,
        .recordsFieldType,
        .recordsFieldUnknown,
        .recordsHeadMoved,
        .recordsInputInvalid,
        .recordsInserted,
        .recordsKey,
        .recordsKeyChanged,
        .recordsKeyMismatch,
        .recordsMalformed,
        .recordsMeta,
        .recordsPseudonymKey,
        .recordsPurgeClock,
        .recordsReordered,
        .recordsRetention,
        .recordsRetentionMinimum,
        .recordsRotationRevoked,
        .recordsRotationUntrusted,
        .recordsSchema,
        .recordsSegmentName,
        .recordsStore,
        .recordsStoreMissing,
        .recordsTornTail,
        .recordsTruncated,
        .recordsUnanchored,
        .recordsUnsigned,
        .recordsVin,
        .recordsVinMismatch,
        .recordsWrongKey,
        .repoBundle,
        .repoConfig,
        .repoKey,
        .repoRole,
        .repoTargetMissing,
        .repoTargetName,
        .repoTargetUnknown,
        .repositoryMismatch,
        .repositoryRequired,
        .requestMalformed,
        .requestSignature,
        .rollbackNothingPending,
        .rollbackRequested,
        .rollbackSecurityVersion,
        .rollbackVersion,
        .rollbackVersionUnordered,
        .signatureAlgorithmMismatch,
        .signatureAlgorithmUnknown,
        .signatureCertificates,
        .signatureDuplicate,
        .signatureDuplicateSigner,
        .signatureEncoding,
        .signatureFailed,
        .signatureInvalid,
        .signatureMissing,
        .signaturePayloadType,
        .signatureSuiteMismatch,
        .signatureThreshold,
        .signatureTooMany,
        .signaturesMalformed,
        .slotHashMismatch,
        .slotIo,
        .slotShort,
        .slotTooSmall,
        .suiteUnknown,
        .targetEcu,
        .targetHardwareId,
        .targetModel,
        .targetSlotGroup,
        .targetSlotSize,
        .targetSuite,
        .targetVin,
        .transportChunkHash,
        .transportChunkList,
        .transportClientIdentity,
        .transportClientRejected,
        .transportFailed,
        .transportHTTPStatus,
        .transportNotFound,
        .transportPlainHTTP,
        .transportServerError,
        .transportTimeout,
        .transportTLS,
        .transportTooLong,
        .trustEmpty,
        .trustMalformed,
        .trustMissing,
        .trustTampered,
        .trustUpdateExpired,
        .trustUpdateInvalid,
        .trustUpdateMalformed,
        .trustUpdateThreshold,
        .trustUpdateVersion,
        .tufExpired,
        .tufHashMismatch,
        .tufHashUnsupported,
        .tufJSON,
        .tufKeyUnsupported,
        .tufLengthMismatch,
        .tufMetadata,
        .tufNotInitialized,
        .tufRoleMissing,
        .tufRollback,
        .tufSignatureThreshold,
        .tufTargetNotFound,
        .tufTooLarge,
        .tufVersionMismatch,
        .usageApprovalId,
        .usageChunkSize,
        .usageInvalid,
        .usageModels,
        .usageRole,
        .usageSignerId,
        .usageTime,
        .usageValidUntil,
        .vehicleConfigMalformed,
        .vehicleStateMalformed,
        .vehicleConfigInvalid,
        .vehicleConfigTampered,
        .vehicleExists,
        .vehicleNotFound,
        .vehiclePrivateDir,
        .vehicleStateMissing,
        .vehicleStateTampered,
        .xzCorrupt,
        .xzDictionary,
        .xzFailed,
        .xzFormat,
        .xzMemoryLimit,
        .xzOptions,
        .xzOutOfMemory,
        .xzOutputLimit,
        .xzPreset,
        .xzSettings,
        .xzTrailingData,
        .xzTruncated,
    ]
}
