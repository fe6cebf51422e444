"""Synthetic DICOM: round trip, required attributes, no patient identity, the synthetic statement."""

import datetime as dt

import numpy as np
import pydicom
import pytest

from synthgui.core.dicom_write import (
    SECONDARY_CAPTURE, VL_PHOTOGRAPHIC, DicomInfo, build_dataset, dicom_bytes, missing_required, write_dicom,
)
from synthgui.core.errors import SynthguiError

WHEN = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("sop,uid,modality", [("secondary-capture", SECONDARY_CAPTURE, "OT"), ("photographic", VL_PHOTOGRAPHIC, "XC")])
def test_rgb_round_trip_and_required_attributes(tmp_path, sop, uid, modality):
    image = np.random.default_rng(1).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    path = tmp_path / "x.dcm"
    write_dicom(path, image, DicomInfo(model="tiny 1", sop=sop, study_entropy=["s"], instance_entropy=["1"], created=WHEN))
    ds = pydicom.dcmread(path)  # strict enough: a file meta header and preamble are required by default
    assert missing_required(ds) == []
    assert ds.SOPClassUID == uid == ds.file_meta.MediaStorageSOPClassUID
    assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
    assert ds.Modality == modality and ds.ConversionType == "SYN"
    assert list(ds.ImageType)[0] == "DERIVED"
    assert "SYNTHETIC" in ds.SeriesDescription and "SYNTHETIC" in ds.ImageComments and ds.BurnedInAnnotation == "NO"
    assert ds.PatientName == "" and ds.PatientID == "" and ds.PatientBirthDate == "" and ds.PatientIdentityRemoved == "YES"
    assert ds.StudyDate == "20260102" and ds.ContentTime == "030405"
    assert ds.PhotometricInterpretation == "RGB" and ds.PlanarConfiguration == 0
    assert np.array_equal(ds.pixel_array, image)
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]


def test_grey_image_and_reproducible_uids():
    image = np.arange(64 * 32, dtype=np.uint16).reshape(64, 32).astype(np.uint8)
    info = DicomInfo(model="m", study_entropy=["export-a"], instance_entropy=["000001"], created=WHEN)
    first, second = dicom_bytes(image, info), dicom_bytes(image, info)
    assert first == second  # same entropy and time: byte-identical
    ds = pydicom.dcmread(__import__("io").BytesIO(first))
    assert ds.PhotometricInterpretation == "MONOCHROME2" and np.array_equal(ds.pixel_array, image)
    other = build_dataset(image, DicomInfo(model="m", study_entropy=["export-a"], instance_entropy=["000002"], created=WHEN))
    assert other.StudyInstanceUID == ds.StudyInstanceUID and other.SOPInstanceUID != ds.SOPInstanceUID
    assert pydicom.uid.UID(ds.SOPInstanceUID).is_valid


def test_missing_required_notices_a_gap():
    ds = build_dataset(np.zeros((8, 8, 3), np.uint8), DicomInfo(model="m"))
    del ds.PatientID
    ds.Modality = ""
    assert set(missing_required(ds)) == {"PatientID", "Modality"}


def test_rejects_non_8_bit():
    with pytest.raises(SynthguiError, match="8-bit"):
        build_dataset(np.zeros((4, 4), np.float32), DicomInfo(model="m"))
