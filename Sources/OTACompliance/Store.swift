enum CompliancePlaceholder {}
