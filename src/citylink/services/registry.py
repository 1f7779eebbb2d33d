"""Which service acts on which event code. Adding a service: one module, one line here."""

from __future__ import annotations

from collections.abc import Iterable

from citylink.services.anklet import AnkletLinkage
from citylink.services.base import Service
from citylink.services.disaster import Disaster
from citylink.services.dispatch_112 import Dispatch112
from citylink.services.dispatch_119 import Dispatch119
from citylink.services.emergency_video_112 import EmergencyVideo112
from citylink.services.environment_alarm import EnvironmentAlarm
from citylink.services.facility_fault import FacilityFault
from citylink.services.linkage_forward import LinkageForward
from citylink.services.route_plans import RoutePlans
from citylink.services.safe_return import SafeReturnHome
from citylink.services.vulnerable_sos import VulnerableSos
from citylink.services.wanted_vehicle import WantedVehicle
from citylink.settings import Settings


class Registry:
    def __init__(self, services: Iterable[Service]) -> None:
        self.services: tuple[Service, ...] = tuple(services)
        self._by_code: dict[str, list[Service]] = {}
        for service in self.services:
            for code in service.codes:
                self._by_code.setdefault(code, []).append(service)

    def for_code(self, code: str) -> list[Service]:
        return self._by_code.get(code, [])

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self._by_code)


def default_registry(settings: Settings) -> Registry:
    emergency_video = EmergencyVideo112(violent_crimes=settings.services.violent_crimes)
    linkage = settings.linkage
    forwarding = ([LinkageForward(linkage.partners, city=settings.city_code, system_code=linkage.system_code)]
                  if linkage.partners else [])
    return Registry([
        emergency_video,
        Dispatch112(),
        Dispatch119(),
        Disaster(default_radius_m=settings.selection.disaster_radius_m),
        VulnerableSos(),
        WantedVehicle(),
        SafeReturnHome(),
        AnkletLinkage(lawful_triggers=settings.services.anklet_triggers, agency=settings.services.anklet_agency),
        RoutePlans(report_needs_cordon=emergency_video.eligible),
        EnvironmentAlarm(agency=settings.environment.agency),
        FacilityFault(),
        *forwarding,
    ])
