"""Card metrics: paired scores, colour-histogram distance, memorisation, and skin-tone fidelity."""

from __future__ import annotations

import numpy as np
import pytest

from synthgui.core import quality
from synthgui.core.skin_tones import FITZPATRICK_LAB, FITZPATRICK_RGB, delta_e76, rgb_to_lab


def noisy(seed: int, base=(180, 140, 120), size=48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.array(base) + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)


def test_paired_scores_of_identical_and_different_images():
    a = noisy(0)
    assert quality.l1(a, a) == 0.0 and quality.ssim(a, a) == pytest.approx(1.0) and quality.psnr(a, a) == float("inf")
    b = noisy(1)
    assert 0.0 < quality.l1(a, b) < 0.2
    assert quality.ssim(a, b) < 0.5
    assert quality.psnr(a, b) < quality.psnr(a, np.clip(a.astype(int) + 2, 0, 255).astype(np.uint8))
    black, white = np.zeros_like(a), np.full_like(a, 255)
    assert quality.l1(black, white) == pytest.approx(1.0)
    scores = quality.paired_scores([a, b], [a, a])
    assert scores.n == 2 and scores.l1 == pytest.approx(quality.l1(b, a) / 2)


def test_histogram_distance_is_zero_for_the_same_colours_and_one_for_disjoint():
    reds = [np.full((8, 8, 3), (200, 10, 10), np.uint8)]
    blues = [np.full((8, 8, 3), (10, 10, 200), np.uint8)]
    assert quality.histogram_distance(reds, reds) == pytest.approx(0.0, abs=1e-9)
    assert quality.histogram_distance(reds, blues) == pytest.approx(1.0)
    mixed = [np.concatenate([reds[0], blues[0]], axis=0)]
    assert 0.2 < quality.histogram_distance(mixed, reds) < 0.9


def test_memorisation_flags_a_copied_training_image():
    training = [noisy(s) for s in range(10)]
    heldout = [noisy(100 + s) for s in range(4)]
    honest = quality.memorisation([noisy(200 + s) for s in range(4)], heldout, training)
    copied = quality.memorisation([training[3], training[5], noisy(300), noisy(301)], heldout, training)
    assert honest.ratio == pytest.approx(1.0, abs=0.3)
    assert copied.min_generated == pytest.approx(0.0, abs=1e-6)
    assert quality.nearest_distances([training[7]], training)[0] == pytest.approx(0.0, abs=1e-6)


def skin_render(rgb, size=64) -> tuple[np.ndarray, np.ndarray]:
    img = np.zeros((size, size, 3), np.uint8)
    img[:] = rgb
    lesion = np.zeros((size, size), np.uint8)
    lesion[20:40, 20:40] = 1
    img[lesion > 0] = (60, 30, 20)
    return img, lesion


def test_tone_row_measures_the_skin_not_the_lesion():
    img, lesion = skin_render(FITZPATRICK_RGB["III"])
    row = quality.tone_row("III", FITZPATRICK_LAB["III"], [img, img], [lesion, lesion])
    assert row.delta_e < 1.0  # the preset's sRGB is its Lab up to rounding
    assert row.requested_ita == pytest.approx(33.7, abs=0.1)


def test_tone_row_reports_the_distance_to_a_wrong_tone():
    img, lesion = skin_render(FITZPATRICK_RGB["I"])
    row = quality.tone_row("VI", FITZPATRICK_LAB["VI"], [img], [lesion])
    expected = float(delta_e76(rgb_to_lab(np.array(FITZPATRICK_RGB["I"], np.uint8)), np.array(FITZPATRICK_LAB["VI"])))
    assert row.delta_e == pytest.approx(expected, abs=0.5)
    assert row.rendered_ita > row.requested_ita + 50
    assert "| VI |" in quality.tone_table_markdown([row])
