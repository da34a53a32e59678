import ArgumentParser

/// Options every command shares.
package struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON on standard output.")
    package var json = false

    package init() {}
}
