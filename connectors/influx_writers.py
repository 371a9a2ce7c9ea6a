"""Write line protocol to InfluxDB through its v2 API (2.x, 3.x, 1.8+) or its v1 ``/write`` (1.x).

Both raise ``RetryableWriteError`` when trying again later may succeed (server down, 5xx,
throttled) and ``RejectedPointsError`` when the server refuses the data itself (4xx).
"""

from __future__ import annotations

import urllib.parse
from typing import Protocol

import urllib3
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.write_api import SYNCHRONOUS

from spendstream.config import InfluxSettings, require


class RetryableWriteError(RuntimeError):
    """The write may succeed later: keep the batch, back off, try again."""


class RejectedPointsError(ValueError):
    """The server refused the points themselves; retrying the same batch cannot help."""


class PointWriter(Protocol):
    def write(self, points: list[Point]) -> None: ...

    def close(self) -> None: ...


class V2Writer:
    """influxdb-client's synchronous write API with a token (``SPENDSTREAM_INFLUX_TOKEN``)."""

    def __init__(self, settings: InfluxSettings) -> None:
        url = require(settings.url, "InfluxDB URL", "SPENDSTREAM_INFLUX_URL")
        self.settings = settings
        self.client = InfluxDBClient(url=url, token=settings.token or "none", org=settings.org, timeout=30_000)
        self.api = self.client.write_api(write_options=SYNCHRONOUS)

    def write(self, points: list[Point]) -> None:
        try:
            self.api.write(self.settings.bucket, self.settings.org, points, write_precision=WritePrecision.MS)
        except InfluxDBError as error:
            status = error.response.status if error.response is not None else 0
            raise _classify(status, str(error)) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise RetryableWriteError(f"InfluxDB at {self.settings.url} is unreachable: {error}") from error

    def close(self) -> None:
        self.client.close()


class V1Writer:
    """POST line protocol to ``/write?db=…&precision=ms``; creates the database if needed."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.url = require(settings.url, "InfluxDB URL", "SPENDSTREAM_INFLUX_URL").rstrip("/")
        self.settings = settings
        self.http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=30), retries=False)
        self.headers = (
            urllib3.make_headers(basic_auth=f"{settings.username}:{settings.password}") if settings.username else {}
        )
        self.database_ready = False

    def _post(self, path: str, params: dict[str, str], body: bytes | None = None) -> None:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            response = self.http.request("POST", url, body=body, headers=self.headers)
        except urllib3.exceptions.HTTPError as error:
            raise RetryableWriteError(f"InfluxDB at {self.url} is unreachable: {error}") from error
        if response.status >= 300:
            raise _classify(response.status, response.data.decode(errors="replace")[:500])

    def write(self, points: list[Point]) -> None:
        if not self.database_ready:
            self._post("/query", {"q": f'CREATE DATABASE "{self.settings.database}"'})
            self.database_ready = True
        body = "\n".join(point.to_line_protocol() for point in points).encode()
        self._post("/write", {"db": self.settings.database, "precision": "ms"}, body)

    def close(self) -> None:
        self.http.clear()


def _classify(status: int, message: str) -> Exception:
    if status in (400, 404, 413, 422):
        return RejectedPointsError(f"InfluxDB refused the points (HTTP {status}): {message}")
    return RetryableWriteError(f"InfluxDB write failed (HTTP {status or 'no response'}): {message}")


def writer_for(settings: InfluxSettings) -> PointWriter:
    if settings.mode == "v2":
        return V2Writer(settings)
    if settings.mode == "v1":
        return V1Writer(settings)
    raise ValueError(f"influx.mode must be 'v2' or 'v1', not {settings.mode!r} (SPENDSTREAM_INFLUX_MODE)")
