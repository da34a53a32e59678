public enum OTABuilderInfo {}
