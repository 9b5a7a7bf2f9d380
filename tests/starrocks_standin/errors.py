"""StarRocks' error texts, sent the way StarRocks sends them (facts page, "SQL on the FE")."""

from __future__ import annotations

from mysql_mimic.errors import MysqlError


class _StarRocksCode(int):
    """StarRocks answers most errors with code 1064 and SQLSTATE HY000. mysql-mimic maps 1064
    to 42000 through a dict keyed by the code, so this int hashes apart from 1064 and falls
    through to mysql-mimic's HY000 default while still packing as 1064."""

    def __hash__(self) -> int:
        return hash(("starrocks", int(self)))


ANALYSIS_ERROR = _StarRocksCode(1064)


class StarRocksError(MysqlError):
    def __init__(self, message: str):
        super().__init__(message, code=ANALYSIS_ERROR)  # type: ignore[arg-type]


ROLE_HINT = (
    "Please ask the admin to grant permission(s) or try activating existing roles using "
    "<set [default] role>. Current role(s): NONE. Inactivated role(s): NONE."
)


def access_denied(privilege: str, object_type: str, name: str) -> StarRocksError:
    return StarRocksError(
        f"Access denied; you need (at least one of) the {privilege} privilege(s) on "
        f"{object_type} {name} for this operation. {ROLE_HINT}"
    )


def unknown_database(name: str) -> StarRocksError:
    return StarRocksError(f"Unknown database '{name}'")


def unknown_table(database: str, table: str) -> StarRocksError:
    return StarRocksError(f"Getting analyzing error. Detail message: Unknown table '{database}.{table}'.")


def unsupported(what: str) -> StarRocksError:
    return StarRocksError(f"Getting syntax error. Detail message: the stand-in does not support {what}.")
