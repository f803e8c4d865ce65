"""What `orderpipe dashboard up` makes, as plain data: the CloudWatch dashboard body and the
QuickSight data source, data sets and dashboard definition (the same views as `orderpipe
report`). Columns come from the pydantic models; nothing here calls AWS."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from orderpipe.job.transform import QUARANTINE_TABLE, TRANSFORMED_TABLE
from orderpipe.models import TABLE_MODELS, columns
from orderpipe.targets.aws.resources import StackSpec, tag_list

# Glue column type → QuickSight input column type.
QS_TYPES = {"string": "STRING", "int": "INTEGER", "bigint": "INTEGER", "double": "DECIMAL",
            "date": "DATETIME", "timestamp": "DATETIME", "boolean": "BOOLEAN"}  # fmt: skip
DATA_SETS = {"orders": TRANSFORMED_TABLE, "quarantine": QUARANTINE_TABLE}
DEFINITION_TAG = "orderpipe:definition"

OWNER = {
    "data_source": ["DescribeDataSource", "DescribeDataSourcePermissions", "PassDataSource",
                    "UpdateDataSource", "DeleteDataSource", "UpdateDataSourcePermissions"],
    "data_set": ["DescribeDataSet", "DescribeDataSetPermissions", "PassDataSet",
                 "DescribeIngestion", "ListIngestions", "UpdateDataSet", "DeleteDataSet",
                 "CreateIngestion", "CancelIngestion", "UpdateDataSetPermissions"],
    "dashboard": ["DescribeDashboard", "ListDashboardVersions", "UpdateDashboardPermissions",
                  "QueryDashboard", "UpdateDashboard", "DeleteDashboard",
                  "DescribeDashboardPermissions", "UpdateDashboardPublishedVersion"],
}  # fmt: skip


class DashboardSpec:
    """Names and bodies of one stack's dashboards."""

    def __init__(self, spec: StackSpec) -> None:
        self.spec = spec
        self.stack = spec.stack

    # names -------------------------------------------------------------------------------
    @property
    def cloudwatch_name(self) -> str:
        return f"{self.stack}-pipeline"

    @property
    def data_source_id(self) -> str:
        return f"{self.stack}-athena"

    def data_set_id(self, key: str) -> str:
        return f"{self.stack}-{DATA_SETS[key].replace('_', '-')}"

    @property
    def dashboard_id(self) -> str:
        return f"{self.stack}-orders"

    @property
    def quicksight_policy(self) -> str:
        return f"{self.stack}-quicksight-access"

    def arn(self, kind: str, resource_id: str) -> str:
        spec = self.spec
        return f"arn:{spec.partition}:quicksight:{spec.region}:{spec.account}:{kind}/{resource_id}"

    @property
    def tags(self) -> list[dict[str, str]]:
        return tag_list(self.spec.tags)

    # CloudWatch ---------------------------------------------------------------------------
    def cloudwatch_body(self) -> dict[str, Any]:
        spec = self.spec
        stream = ["DeliveryStreamName", spec.stream]
        job = ["JobName", spec.job, "JobRunId", "ALL", "Type", "count"]
        athena = (
            'SELECT {fn}({metric}) FROM SCHEMA("AWS/Athena", QueryState, QueryType, WorkGroup) '
            f"WHERE WorkGroup = '{spec.workgroup}'"
        )
        lake = ["BucketName", spec.bucket("lake")]
        panels = [
            ("Firehose: records in and delivered to S3", "Sum", 300, [
                ["AWS/Firehose", "IncomingRecords", *stream],
                ["AWS/Firehose", "DeliveryToS3.Records", *stream]]),
            ("Firehose: delivery to S3 success (share of puts)", "Average", 300, [
                ["AWS/Firehose", "DeliveryToS3.Success", *stream]]),
            ("Firehose: freshness of delivered data (s)", "Maximum", 300, [
                ["AWS/Firehose", "DeliveryToS3.DataFreshness", *stream]]),
            ("Glue job: runs succeeded and failed", "Sum", 3600, [
                ["Glue", "glue.succeed.ALL", *job], ["Glue", "glue.error.ALL", *job]]),
            ("Glue job: run duration (ms)", "Maximum", 3600, [
                ["Glue", "glue.driver.aggregate.elapsedTime", *job]]),
            ("Athena: data scanned (bytes)", "Sum", 3600, [
                [{"expression": athena.format(fn="SUM", metric="ProcessedBytes"),
                  "id": "scanned", "label": "ProcessedBytes"}]]),
            ("Athena: query execution time (ms)", "Average", 3600, [
                [{"expression": athena.format(fn="AVG", metric="TotalExecutionTime"),
                  "id": "runtime", "label": "TotalExecutionTime"}]]),
            ("Lake bucket: size (bytes) and objects", "Average", 86400, [
                ["AWS/S3", "BucketSizeBytes", *lake, "StorageType", "StandardStorage"],
                ["AWS/S3", "BucketSizeBytes", *lake, "StorageType", "IntelligentTieringFAStorage"],
                ["AWS/S3", "NumberOfObjects", *lake, "StorageType", "AllStorageTypes",
                 {"yAxis": "right"}]]),
        ]  # fmt: skip
        widgets: list[dict[str, Any]] = [
            {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {
                "markdown": f"## orderpipe stack `{self.stack}`\nIngestion (Firehose), ETL "
                "(Glue), queries (Athena) and the lake bucket. `orderpipe status` shows the "
                "same stages; `orderpipe report` the data."}},
        ]  # fmt: skip
        for i, (title, stat, period, metrics) in enumerate(panels):
            widgets.append({
                "type": "metric", "x": 12 * (i % 2), "y": 2 + 6 * (i // 2),
                "width": 12, "height": 6,
                "properties": {"title": title, "region": spec.region, "stat": stat,
                               "period": period, "view": "timeSeries", "metrics": metrics},
            })  # fmt: skip
        return {"widgets": widgets}

    # QuickSight ---------------------------------------------------------------------------
    def data_source_params(self) -> dict[str, Any]:
        return {"AthenaParameters": {"WorkGroup": self.spec.workgroup}}

    def data_set_params(self, key: str, data_source_arn: str) -> dict[str, Any]:
        table = DATA_SETS[key]
        cols = [{"Name": c["name"], "Type": QS_TYPES.get(c["glue"], "STRING")}
                for c in columns(TABLE_MODELS[table])]  # fmt: skip
        return {
            "DataSetId": self.data_set_id(key),
            "Name": f"orderpipe {self.stack}: {table}",
            "ImportMode": "DIRECT_QUERY",  # Athena answers each visual: always current
            "PhysicalTableMap": {key: {"RelationalTable": {
                "DataSourceArn": data_source_arn, "Catalog": "AwsDataCatalog",
                "Schema": self.spec.database, "Name": table, "InputColumns": cols}}},
        }  # fmt: skip

    def dashboard_definition(self) -> dict[str, Any]:
        """The report's views: headline figures, revenue by day, region and country, invoices
        by hour, quarantine by reason and the top orders."""
        visuals = [
            _kpi("revenue", "Revenue (USD)", _sum("orders", "totalamountusd")),
            _kpi("invoices", "Invoices", _distinct("orders", "invoiceno")),
            _kpi("customers", "Customers", _distinct("orders", "customerid")),
            _kpi("quarantined", "Quarantined records", _count("quarantine", "reason")),
            _line("revenue-by-day", "Revenue by day (USD)", "invoicedateonly",
                  _sum("orders", "totalamountusd")),
            _bar("revenue-by-region", "Revenue by region (USD)", _dim("orders", "region"),
                 _sum("orders", "totalamountusd"), limit=10, pie=True),
            _bar("top-countries", "Top countries by revenue (USD)", _dim("orders", "country"),
                 _sum("orders", "totalamountusd"), limit=15),
            _bar("invoices-by-hour", "Invoices by hour of day",
                 _dim("orders", "invoicehour", numeric=True),
                 _distinct("orders", "invoiceno"), limit=24, by_category=True),
            _bar("quarantine-by-reason", "Quarantined records by reason",
                 _dim("quarantine", "reason"), _count("quarantine", "reason"), limit=10),
            _top_orders(),
        ]  # fmt: skip
        return {
            "DataSetIdentifierDeclarations": [],  # filled by `with_data_sets`
            "Sheets": [{"SheetId": "orders", "Name": "Orders", "Visuals": visuals}],
        }

    def with_data_sets(self, definition: dict[str, Any]) -> dict[str, Any]:
        declared = [{"Identifier": key, "DataSetArn": self.arn("dataset", self.data_set_id(key))}
                    for key in DATA_SETS]  # fmt: skip
        return {**definition, "DataSetIdentifierDeclarations": declared}

    def permissions(self, kind: str, principals: list[str]) -> dict[str, Any]:
        """The `Permissions` argument giving `principals` owner rights (none: no argument)."""
        actions = [f"quicksight:{a}" for a in OWNER[kind]]
        return (
            {"Permissions": [{"Principal": p, "Actions": actions} for p in principals]}
            if principals
            else {}
        )

    def quicksight_role_policy(self) -> dict[str, Any]:
        """What QuickSight's service role needs to query the stack through Athena: read the
        lake and the catalog, read and write query results, run queries in the workgroup."""
        spec = self.spec
        glue = f"arn:{spec.partition}:glue:{spec.region}:{spec.account}"
        results = spec.bucket_arn("athena-results")
        lake = spec.bucket_arn("lake")
        return {"Version": "2012-10-17", "Statement": [
            {"Sid": "ReadLake", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket",
             "s3:GetBucketLocation"], "Resource": [lake, f"{lake}/*"]},
            {"Sid": "QueryResults", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject",
             "s3:ListBucket", "s3:GetBucketLocation", "s3:AbortMultipartUpload",
             "s3:ListMultipartUploadParts"], "Resource": [results, f"{results}/*"]},
            {"Sid": "Catalog", "Effect": "Allow", "Action": ["glue:GetDatabase", "glue:GetTable",
             "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"],
             "Resource": [f"{glue}:catalog", f"{glue}:database/{spec.database}",
                          f"{glue}:table/{spec.database}/*"]},
            {"Sid": "Athena", "Effect": "Allow", "Action": ["athena:StartQueryExecution",
             "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution",
             "athena:GetWorkGroup"], "Resource": [
                f"arn:{spec.partition}:athena:{spec.region}:{spec.account}:workgroup/"
                f"{spec.workgroup}"]},
        ]}  # fmt: skip


def fingerprint(value: Any) -> str:
    """A short hash of a definition, kept in a tag so an unchanged `up` makes no call."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


# QuickSight visual builders ----------------------------------------------------------------
def _column(data_set: str, name: str) -> dict[str, str]:
    return {"DataSetIdentifier": data_set, "ColumnName": name}


def _field_id(data_set: str, name: str, what: str) -> str:
    return f"{data_set}.{name}.{what}"


def _sum(data_set: str, name: str) -> dict[str, Any]:
    return {"NumericalMeasureField": {
        "FieldId": _field_id(data_set, name, "sum"), "Column": _column(data_set, name),
        "AggregationFunction": {"SimpleNumericalAggregation": "SUM"}}}  # fmt: skip


def _distinct(data_set: str, name: str) -> dict[str, Any]:
    return {"CategoricalMeasureField": {
        "FieldId": _field_id(data_set, name, "distinct"), "Column": _column(data_set, name),
        "AggregationFunction": "DISTINCT_COUNT"}}  # fmt: skip


def _count(data_set: str, name: str) -> dict[str, Any]:
    return {"CategoricalMeasureField": {
        "FieldId": _field_id(data_set, name, "count"), "Column": _column(data_set, name),
        "AggregationFunction": "COUNT"}}  # fmt: skip


def _dim(data_set: str, name: str, numeric: bool = False) -> dict[str, Any]:
    kind = "NumericalDimensionField" if numeric else "CategoricalDimensionField"
    return {kind: {"FieldId": _field_id(data_set, name, "dim"), "Column": _column(data_set, name)}}


def _field(measure: dict[str, Any]) -> str:
    return str(next(iter(measure.values()))["FieldId"])


def _title(text: str) -> dict[str, Any]:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


def _kpi(visual_id: str, title: str, measure: dict[str, Any]) -> dict[str, Any]:
    return {"KPIVisual": {"VisualId": visual_id, "Title": _title(title),
                          "ChartConfiguration": {"FieldWells": {"Values": [measure]}}}}  # fmt: skip


def _line(visual_id: str, title: str, date_column: str, measure: dict[str, Any]) -> dict[str, Any]:
    day = {"DateDimensionField": {"FieldId": _field_id("orders", date_column, "day"),
           "Column": _column("orders", date_column), "DateGranularity": "DAY"}}  # fmt: skip
    return {"LineChartVisual": {"VisualId": visual_id, "Title": _title(title),
            "ChartConfiguration": {"FieldWells": {"LineChartAggregatedFieldWells": {
                "Category": [day], "Values": [measure]}}}}}  # fmt: skip


def _bar(visual_id: str, title: str, dim: dict[str, Any], measure: dict[str, Any], *,
         limit: int, pie: bool = False, by_category: bool = False) -> dict[str, Any]:  # fmt: skip
    sort_by, direction = (_field(dim), "ASC") if by_category else (_field(measure), "DESC")
    sort = {"CategorySort": [{"FieldSort": {"FieldId": sort_by, "Direction": direction}}],
            "CategoryItemsLimit": {"ItemsLimit": limit, "OtherCategories": "EXCLUDE"}}  # fmt: skip
    if pie:
        return {"PieChartVisual": {"VisualId": visual_id, "Title": _title(title),
                "ChartConfiguration": {"FieldWells": {"PieChartAggregatedFieldWells": {
                    "Category": [dim], "Values": [measure]}}, "SortConfiguration": sort,
                    "DonutOptions": {"ArcOptions": {"ArcThickness": "MEDIUM"}}}}}  # fmt: skip
    return {"BarChartVisual": {"VisualId": visual_id, "Title": _title(title),
            "ChartConfiguration": {"FieldWells": {"BarChartAggregatedFieldWells": {
                "Category": [dim], "Values": [measure]}}, "SortConfiguration": sort,
                "Orientation": "VERTICAL" if by_category else "HORIZONTAL"}}}  # fmt: skip


def _top_orders() -> dict[str, Any]:
    total = _sum("orders", "totalamountusd")
    group = [_dim("orders", name) for name in ("invoiceno", "customerid", "country")]
    return {"TableVisual": {"VisualId": "top-orders", "Title": _title("Top orders (USD)"),
            "ChartConfiguration": {
                "FieldWells": {"TableAggregatedFieldWells": {
                    "GroupBy": group, "Values": [_count("orders", "stockcode"), total]}},
                "SortConfiguration": {"RowSort": [
                    {"FieldSort": {"FieldId": _field(total), "Direction": "DESC"}}],
                    "PaginationConfiguration": {"PageSize": 10, "PageNumber": 1}}}}}  # fmt: skip
