"""The instance catalog: what each EC2 type is and costs, from a versioned data file.

Recommendations need facts the bill does not carry (the vCPU and memory of a smaller size, the
discount a Savings Plan would give, how often spot capacity of a family is reclaimed). They come
from ``instance_catalog.json`` (its ``source`` and ``snapshot_date`` say where from and when);
``optimizer.catalog`` points at a newer file. A rate the bill itself shows wins over the catalog's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

DEFAULT_CATALOG = Path(__file__).with_name("instance_catalog.json")
HOURS_PER_MONTH = 730
_INSTANCE_TYPE = re.compile(r"\b([a-z][a-z0-9-]*\d[a-z0-9-]*\.(?:nano|micro|small|medium|large|\d*xlarge|metal))\b")


class CatalogError(ValueError):
    """The catalog file is unreadable or incomplete; the message names the file and the gap."""


@dataclass(frozen=True, slots=True)
class InstanceType:
    name: str
    family: str
    architecture: str
    vcpu: int
    memory_gib: float
    on_demand: dict[str, Decimal]  # region → $/h


@dataclass(frozen=True, slots=True)
class SpotMarket:
    discount: Decimal  # typical fraction off on-demand
    interruption_bucket: str  # the Spot Instance Advisor's: <5%, 5-10%, 10-15%, 15-20%, >20% a month


@dataclass(frozen=True)
class Catalog:
    snapshot_date: str
    source: str
    types: dict[str, InstanceType]
    discounts: dict[str, dict[tuple[str, int, str], Decimal]]  # family → (kind, term, payment) → fraction
    spot: dict[str, SpotMarket]  # family → its spot market

    def get(self, name: str) -> InstanceType | None:
        return self.types.get(name)

    def rate(self, name: str, region: str) -> Decimal | None:
        """Public on-demand $/h of a type in a region, or None when the catalog does not price it."""
        known = self.types.get(name)
        return known.on_demand.get(region) if known else None

    def smaller_sizes(self, name: str) -> list[InstanceType]:
        """Cheaper sizes of the same family (so the same architecture), smallest first."""
        current = self.types[name]
        return sorted(
            (
                t
                for t in self.types.values()
                if t.family == current.family and (t.vcpu, t.memory_gib) < (current.vcpu, current.memory_gib)
            ),
            key=lambda t: (t.vcpu, t.memory_gib),
        )

    def discount(self, family: str, kind: str, term_years: int, payment: str) -> Decimal:
        try:
            return self.discounts[family][(kind, term_years, payment)]
        except KeyError:
            raise CatalogError(f"the catalog has no {kind} discount for {family} ({term_years} y, {payment})") from None


def instance_type_of(*texts: str) -> str:
    """The EC2 instance type named in a column (``m5.large``, ``BoxUsage:c6i.2xlarge``, a description)."""
    for text in texts:
        match = _INSTANCE_TYPE.search(text or "")
        if match:
            return match.group(1)
    return ""


def family_of(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


@cache
def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    """Read and check a catalog file (cached per path: the job and batch commands read it once)."""
    try:
        document = json.loads(Path(path).read_text())
        families = document["families"]
        types = {
            name: InstanceType(
                name=name,
                family=entry["family"],
                architecture=families[entry["family"]]["architecture"],
                vcpu=int(entry["vcpu"]),
                memory_gib=float(entry["memory_gib"]),
                on_demand={region: Decimal(rate) for region, rate in entry["on_demand"].items()},
            )
            for name, entry in document["types"].items()
        }
        discounts = {
            family: {
                (kind, int(term), payment): Decimal(value)
                for kind, terms in entry["commitment_discounts"].items()
                for term, options in terms.items()
                for payment, value in options.items()
            }
            for family, entry in families.items()
        }
        spot = {
            family: SpotMarket(Decimal(entry["spot"]["discount"]), entry["spot"]["interruption_bucket"])
            for family, entry in families.items()
        }
        return Catalog(document["snapshot_date"], document["source"], types, discounts, spot)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CatalogError(
            f"instance catalog {path} is not usable ({type(error).__name__}: {error}); "
            f"point optimizer.catalog at a file shaped like {DEFAULT_CATALOG.name}"
        ) from None
