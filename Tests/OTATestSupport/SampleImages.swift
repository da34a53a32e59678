/// The sample image files the manifests in `manifests/` name, made by `scripts/make-sample-images.sh`.
public enum SampleImages {
    /// Writes the images (each `sizeMiB` MiB at most) into `directory`, making it.
    public static func make(in directory: String, sizeMiB: Int = 1) throws {
        let script = RepositoryRoot.path + "/scripts/make-sample-images.sh"
        let result = try ProcessRunner.run(script, [directory, String(sizeMiB)])
        guard result.status == 0 else {
            throw ChildProcess.Failure(description: "\(script) exited \(result.status): \(result.stderr)")
        }
    }
}
