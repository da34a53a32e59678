// ota-fuzz: the libFuzzer driver for every harness (Fuzz/README.md).
//
//     ota-fuzz NAME [libFuzzer options and corpus directories or files]
//     ota-fuzz --list
//     ota-fuzz --make-seeds DIR [NAME...]
//
// Built only with OTA_FUZZ=1 and `-sanitize=fuzzer,address` (make fuzz). SwiftPM gives the
// executable its own `main`, so libFuzzer's is not linked: this file hands control to
// `LLVMFuzzerRunDriver`, which parses the libFuzzer options that follow the harness name.
import Foundation
import OTACore

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ota-fuzz: \(message)\n".utf8))
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    fail(
        "usage: ota-fuzz NAME [libFuzzer options] [CORPUS...] | --list | --make-seeds DIR [NAME...]\nharnesses: "
            + FuzzTargets.all.map { $0.name }.joined(separator: " "))
}
switch arguments[1] {
case "--list":
    for target in FuzzTargets.all { print("\(target.name)\t\(target.summary)") }
    exit(0)
case "--make-seeds":
    guard arguments.count >= 3 else { fail("usage: ota-fuzz --make-seeds DIR [NAME...]") }
    do throws(OTAError) {
        try SeedMaker(directory: arguments[2], only: Set(arguments.dropFirst(3))).makeAll()
    } catch {
        fail("\(error.code.rawValue): \(error.message)")
    }
    exit(0)
default:
    break
}
guard let type = FuzzTargets.named(arguments[1]) else { fail("no harness '\(arguments[1])' (see --list)") }
do throws(OTAError) {
    FuzzTargets.current = try type.init()
} catch {
    fail("\(type.name): cannot set up: \(error.code.rawValue): \(error.message)")
}

// libFuzzer sees argv without the harness name.
var driverArguments: [UnsafeMutablePointer<CChar>?] = [CommandLine.unsafeArgv[0]]
for index in 2..<Int(CommandLine.argc) { driverArguments.append(CommandLine.unsafeArgv[index]) }
driverArguments.append(nil)
var driverCount = Int32(driverArguments.count - 1)
let status = driverArguments.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return LLVMFuzzerRunDriver(&driverCount, &pointer) { data, size in
        let input = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
        FuzzTargets.current?.run(input)
        return 0
    }
}
exit(status)
