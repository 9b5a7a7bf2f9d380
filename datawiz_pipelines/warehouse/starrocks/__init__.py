"""The production StarRocks backend: DDL, Stream Load, SQL connections and the resource."""

from datawiz_pipelines.warehouse.starrocks.warehouse import StarRocksWarehouse

__all__ = ["StarRocksWarehouse"]
