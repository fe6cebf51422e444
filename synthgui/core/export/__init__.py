"""Exporting image sets: sweeps over masks and parameters, rendered by the one engine, written
atomically with a manifest, a dataset card, resume, DICOM and a memorisation (privacy) check."""

from .privacy_run import run_privacy_check
from .run import FORMATS, ExportJob, ExportOptions, ExportResult, Progress
from .sources import MaskSource, canvas_source, folder_sources, noise_sources, random_sources
from .sweep import Plan, Sweep, Variant, parse_floats, parse_locations, parse_skin_tones

__all__ = [
    "FORMATS", "ExportJob", "ExportOptions", "ExportResult", "Progress", "MaskSource", "canvas_source",
    "folder_sources", "noise_sources", "random_sources", "Plan", "Sweep", "Variant", "parse_floats", "parse_locations",
    "parse_skin_tones", "run_privacy_check",
]
