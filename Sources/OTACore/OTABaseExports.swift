// OTACore's users see OTABase (errors, hashing, LZMA2, file I/O: the Foundation-free part that
// `ota-patch` links) as part of OTACore.
@_exported public import OTABase
