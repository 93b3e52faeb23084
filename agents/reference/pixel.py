"""``reference/pixel``: the honest vision baseline. It reads only the image pixels it is sent
(via :mod:`agents.reference.vision`) plus textbook priors in ``knowledge.json``; never the
scenario's ground truth. The first image of the conversation is taken as the current one and
any later image as an earlier (prior) one, as the simulator presents them."""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

from PIL import Image

from agents.reference import vision
from agents.reference.base import Reading, ReferenceModel, join_words
from agents.reference.blind import knowledge
from arena.schemas.messages import ImagePart, Message


@lru_cache(maxsize=64)
def _analyse(data: bytes) -> tuple[str, Any]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        kind = vision.classify_image(img)
        if kind == "skin_photo":
            return kind, vision.analyse_skin(img)
        if kind == "radiograph":
            return kind, vision.analyse_radiograph(img)
    return kind, None


class Pixel(ReferenceModel):
    def read(self, messages: list[Message]) -> Reading:
        images: list[ImagePart] = [part for m in messages for part in m.images]
        if not images:
            return Reading(cannot_see=True, question="Could you send a photo or the image?")
        kind, features = _analyse(images[0].data)
        if kind == "skin_photo" and features is not None and features.lesion_found:
            priors = [_analyse(p.data) for p in images[1:]]
            prior = next((f for k, f in priors if k == "skin_photo" and f is not None and f.lesion_found), None)
            return _read_skin(features, prior)
        if kind == "radiograph" and features is not None:
            return _read_radiograph(features)
        return Reading(question="Can you tell me what the image shows and why it was taken?")


def _read_skin(f: vision.SkinFeatures, prior: vision.SkinFeatures | None) -> Reading:
    k = knowledge()["skin"]
    findings: list[str] = []
    answers: dict[str, str] = {}
    features = 0
    if f.asymmetry >= k["asymmetry_threshold"]:
        findings.append("an asymmetric shape")
        answers["shape symmetry symmetric side even"] = "it looks asymmetric: one half doesn't mirror the other"
        features += 1
    else:
        answers["shape symmetry symmetric side even"] = "the shape looks fairly symmetric"
    if f.border_irregularity >= k["border_threshold"]:
        findings.append("an irregular border")
        answers["edges border edge outline smooth"] = "the border is irregular, with notches"
        features += 1
    else:
        answers["edges border edge outline smooth"] = "the border looks fairly smooth and regular"
    colours = ", ".join(name.replace("-", " ") for name in f.colour_names)
    if f.n_colours >= k["colours_threshold"]:
        findings.append(f"multiple colours ({colours})")
        answers["colour color shade shades pigment lighter darker"] = f"there are multiple colours: {colours}"
        features += 1
    else:
        answers["colour color shade shades pigment lighter darker"] = f"the colour is fairly uniform ({colours})"
    if f.diameter_mm is not None:
        size = f"a diameter of about {f.diameter_mm:.1f} mm"
        if f.diameter_mm > k["diameter_threshold_mm"]:
            size += ", larger than 6 mm"
            features += 1
        findings.append(size)
        answers["size wide diameter big scale"] = f"it measures {size} against the scale bar"
    change = None
    if prior is not None:
        delta = vision.compare_skin(prior, f)
        if delta.grew and prior.diameter_mm and f.diameter_mm:
            change = f"it has grown from about {prior.diameter_mm:.1f} mm to {f.diameter_mm:.1f} mm"
            if delta.asymmetry_change > 0.1:
                change += " and become more asymmetric"
            if delta.new_colours:
                change += f", with new {join_words([c.replace('-', ' ') for c in delta.new_colours])} areas"
            features += 1
        else:
            change = "it looks much the same size and shape as before"
    rule = next(r for r in k["by_feature_count"] if features >= r["min_features"])
    return Reading(
        findings=findings,
        change=change,
        leading=rule["leading"],
        leading_p=rule["leading_p"],
        differential=[(name, p) for name, p in rule["differential"]],
        plan=list(k["plan"]),
        urgent_advice=("Please see a dermatologist urgently, within two weeks." if rule["urgent"] else
                       "A dermatologist should take a look with dermoscopy."),
        question=k["question"],
        probe_answers=answers,
    )


def _read_radiograph(f: vision.RadiographFeatures) -> Reading:
    k = knowledge()["radiograph"]
    if not f.lung_field_found:
        return Reading(
            findings=["a radiograph that is not a chest film"],
            question=k["question_other"],
        )
    if f.n_nodules >= k["multiple_nodules_min"]:
        rule = k["multiple"]
        where = "in both lungs" if f.bilateral else f"in the {'right' if f.n_right else 'left'} lung"
        findings = [f"multiple round nodular opacities ({f.n_nodules} detected) {where}"]
    elif f.n_nodules >= 1:
        rule = k["single"]
        findings = ["a round nodular opacity"]
    else:
        rule = k["none"]
        findings = []
    answers = {
        "focal lesions nodules spots round many": (
            f"I count {f.n_nodules} round opacities" if f.n_nodules else "I can't identify a focal lesion"),
        "distribution side sides lungs one": (
            "they are in both lungs" if f.bilateral else "they are on one side only"),
        "margins shape sharp fuzzy look": "they look rounded" if f.n_nodules else "I can't characterise them",
    }
    return Reading(
        findings=findings,
        leading=rule["leading"],
        leading_p=rule["leading_p"],
        differential=[(name, p) for name, p in rule["differential"]],
        plan=list(k["plan"]),
        urgent_advice="This needs prompt specialist follow-up; please don't wait." if rule["urgent"] else None,
        question=k["question"],
        probe_answers=answers,
    )
