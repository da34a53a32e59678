public import Foundation
public import OTABase

/// `Data` for the byte APIs of OTABase (hashing, compression, writing), which do not link Foundation.
extension Data: ByteStorage {}
