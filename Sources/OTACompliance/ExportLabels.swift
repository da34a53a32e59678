/// Column names and report words in the export language.
struct ExportLabels {
    let language: ExportLanguage
    let columns: [String]
    let title: String
    let vehicle: String
    let summary: (Int, Int) -> String

    init(_ language: ExportLanguage) {
        self.language = language
        switch language {
        case .en:
            columns = ["Time", "Time source", "VIN", "Bundle", "Campaign", "ECU", "Hardware part", "Step", "Result",
                       "Error code", "Version before", "Version after", "Image hash before", "Image hash after",
                       "RXSWIN/SWIN before", "RXSWIN/SWIN after", "Change categories", "Regulatory references",
                       "Precondition readings", "Notice digest", "Notice language", "Confirmed by", "Confirmation channel",
                       "Confirmation answer", "Confirmation time", "Started", "Finished", "Duration (ms)", "Entry kind",
                       "Entry number", "Entry hash"]
            title = "Software update records"
            vehicle = "Vehicle"
            summary = { "\($0) entries, \($1) vehicles" }
        case .zhCN:
            columns = ["时间", "时间来源", "车辆识别代号", "升级包", "升级活动", "控制器", "硬件零件号", "步骤", "结果",
                       "错误码", "升级前版本", "升级后版本", "升级前镜像哈希", "升级后镜像哈希",
                       "升级前软件识别码", "升级后软件识别码", "变更类别", "法规依据",
                       "前置条件读数", "告知内容摘要", "告知语言", "确认人", "确认渠道",
                       "确认答复", "确认时间", "开始时间", "结束时间", "耗时(毫秒)", "条目类型",
                       "条目序号", "条目哈希"]
            title = "软件升级记录"
            vehicle = "车辆"
            summary = { "共 \($0) 条记录，\($1) 辆车" }
        }
    }
}
