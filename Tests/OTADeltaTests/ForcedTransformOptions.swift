@testable import OTADelta

extension DeltaOptions {
    /// Options that treat the whole of both images as code of `architecture` (one region each)
    /// and keep the transform block even where its predictions would not pay for it: random
    /// bytes hold few sites, and these tests exercise formats 3 and 4 on them.
    static func forcingTransform(
        oldCount: Int, newCount: Int, architecture: ReferenceArchitecture
    ) -> DeltaOptions {
        func region(_ count: Int) -> ReferenceTransform.Region {
            ReferenceTransform.Region(
                fileStart: 0, length: Int64(count), address: 0, span: UInt64(count), architecture: architecture)
        }
        var options = DeltaOptions()
        options.keepTransform = true
        options.forcedTransformRegions = (old: [region(oldCount)], new: [region(newCount)])
        return options
    }
}
