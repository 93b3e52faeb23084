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

# Images larger than this on their longest side are analysed downscaled (aspect kept): the
# measurements read their scale from the ruler or scale bar in the image itself, and a 40-megapixel
# image analysed at full size costs gigabytes of float arrays for no gain.
MAX_ANALYSIS_SIDE = 2048


@lru_cache(maxsize=16)
def _analyse(data: bytes) -> tuple[str, Any]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        if max(img.size) > MAX_ANALYSIS_SIDE:
            img.thumbnail((MAX_ANALYSIS_SIDE, MAX_ANALYSIS_SIDE))
        kind = vision.classify_image(img)
        if kind == "skin_photo":
            return kind, vision.analyse_skin(img)
        if kind == "radiograph":
            return kind, vision.analyse_radiograph(img)
        if kind == "fundus":
            return kind, vision.analyse_fundus(img)
    return kind, None


class Pixel(ReferenceModel):
    def read(self, messages: list[Message]) -> Reading:
        images: list[ImagePart] = [part for m in messages for part in m.images]
        if not images:
            return Reading(cannot_see=True, question="Could you send a photo or the image?")
        kind, features = _analyse(images[0].data)
        later = [_analyse(p.data) for p in images[1:]]
        prior = next((f for k, f in later if k == kind and f is not None), None)
        if kind == "skin_photo" and features is not None and features.lesion_found:
            return _read_skin(features, prior if prior is not None and prior.lesion_found else None)
        if kind == "radiograph" and features is not None:
            return _read_radiograph(features, prior)
        if kind == "fundus" and features is not None and features.disc_found:
            return _read_fundus(features, prior)
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
    return _reading(k, rule, findings, change, answers,
                    urgent_advice="Please see a dermatologist urgently, within two weeks.",
                    routine_advice="A dermatologist should take a look with dermoscopy.")


def _rule(rules: list[dict[str, Any]], flags: set[str]) -> dict[str, Any]:
    """The first knowledge rule whose required flags are all present (the last has none)."""
    return next(rule for rule in rules if set(rule["requires"]) <= flags)


def _reading(knowledge_part: dict[str, Any], rule: dict[str, Any], findings: list[str], change: str | None,
             answers: dict[str, str], *, urgent_advice: str, routine_advice: str | None = None) -> Reading:
    """A reading whose impression and advice come from one knowledge rule."""
    return Reading(
        findings=findings,
        change=change,
        leading=rule["leading"],
        leading_p=rule["leading_p"],
        differential=[(name, p) for name, p in rule["differential"]],
        plan=list(knowledge_part["plan"]),
        urgent_advice=urgent_advice if rule["urgent"] else routine_advice,
        question=knowledge_part["question"],
        probe_answers=answers,
    )


def _side(side: str) -> str:
    return "both sides" if side == "bilateral" else f"the {side} side"


def _read_radiograph(f: vision.RadiographFeatures, prior: vision.RadiographFeatures | None) -> Reading:
    k = knowledge()["radiograph"]
    if not f.lung_field_found:
        return Reading(findings=["a radiograph that is not a chest film"], question=k["question_other"])
    flags: set[str] = set()
    findings: list[str] = []
    answers: dict[str, str] = {}
    if f.n_nodules >= k["multiple_nodules_min"]:
        flags.add("multiple_nodules")
        where = "in both lungs" if f.bilateral else f"in the {'right' if f.n_right else 'left'} lung"
        findings.append(f"multiple round nodular opacities ({f.n_nodules} detected) {where}")
    elif f.n_nodules >= 1:
        flags.add("nodule")
        nodule = max(f.nodules, key=lambda n: n.diameter_px)
        size = f", about {nodule.diameter_mm:.0f} mm across" if nodule.diameter_mm else ""
        findings.append(f"a round nodule in the {nodule.side} {nodule.zone} zone{size}")
    answers["focal lesions nodules nodule spots spot round many size"] = (
        findings[0] if f.n_nodules else "I can't identify a focal nodule")
    answers["distribution side sides lungs one"] = (
        "they are in both lungs" if f.bilateral else "it is on one side only" if f.n_nodules else
        "I see nothing focal on either side")
    if f.effusion_side != "none":
        flags.add("effusion")
        findings.append(f"a pleural effusion on {_side(f.effusion_side)}, blunting the costophrenic angle")
    answers["costophrenic angles fluid base bases effusion"] = (
        findings[-1] if f.effusion_side != "none" else "the costophrenic angles look clear")
    if f.pneumothorax_side != "none":
        flags.add("pneumothorax")
        findings.append(f"a {f.pneumothorax_side} pneumothorax: a visible pleural line with no lung markings beyond it")
    answers["edge lung markings pleural line collapsed air"] = (
        findings[-1] if f.pneumothorax_side != "none" else "lung markings reach the chest wall on both sides")
    for zone in f.consolidation:
        flags.add("consolidation")
        findings.append(f"consolidation in the {zone} zone")
    if f.cardiothoracic_ratio is not None:
        if f.cardiothoracic_ratio > k["ctr_threshold"]:
            flags.add("cardiomegaly")
            findings.append(f"an enlarged cardiac silhouette (cardiothoracic ratio about {f.cardiothoracic_ratio:.2f})")
        answers["heart size cardiac silhouette"] = (
            f"the cardiothoracic ratio is about {f.cardiothoracic_ratio:.2f}")
    change = None
    if prior is not None and prior.lung_field_found:
        delta = vision.compare_radiographs(prior, f)
        if delta.largest_nodule_prior_mm and delta.largest_nodule_current_mm:
            before, now = delta.largest_nodule_prior_mm, delta.largest_nodule_current_mm
            change = (f"the nodule has grown from about {before:.0f} mm to {now:.0f} mm" if delta.grew
                      else f"the nodule is stable at about {now:.0f} mm (it was about {before:.0f} mm)")
            if delta.grew:
                flags.add("growing_nodule")
        elif delta.new_nodules > 0:
            change = f"there {'is' if delta.new_nodules == 1 else 'are'} {delta.new_nodules} new nodule(s)"
        else:
            change = f"compared with before: {delta.effusion_change}" if delta.effusion_change else (
                "no clear change")
    return _reading(k, _rule(k["rules"], flags), findings, change, answers,
                    urgent_advice="This needs prompt specialist follow-up; please don't wait.")


def _read_fundus(f: vision.FundusFeatures, prior: vision.FundusFeatures | None) -> Reading:
    k = knowledge()["fundus"]
    flags: set[str] = set()
    findings: list[str] = []
    counts = [
        ("haemorrhages", f.n_haemorrhages, "retinal haemorrhages"),
        ("exudates", f.n_exudates, "hard exudates"),
        ("microaneurysms", f.n_microaneurysms, "microaneurysms"),
        ("cotton_wool_spots", f.n_cotton_wool_spots, "cotton wool spots"),
        ("drusen", f.n_drusen, "drusen around the macula"),
    ]
    answers: dict[str, str] = {}
    for flag, n, words in counts:
        if n > 0:
            flags.add(flag)
            findings.append(f"{words} (about {n})")
        answers[f"{words} {flag} spots dots red yellow white bleeding"] = (
            f"I count about {n} {words}" if n else f"I don't see {words}")
    if f.disc_margin_blurred:
        flags.add("disc_swelling")
        findings.append("a swollen optic disc with blurred margins")
    if f.cup_to_disc is not None:
        large = f.cup_to_disc >= k["cup_to_disc_threshold"]
        if large:
            flags.add("large_cup")
        findings.append(f"a cup-to-disc ratio of about {f.cup_to_disc:.1f}" + (", which is enlarged" if large else ""))
        answers["optic disc cup nerve ratio"] = findings[-1]
    change = None
    if prior is not None:
        delta = vision.compare_fundus(prior, f)
        change = ("the retinopathy has progressed, with more lesions than before" if delta.progressed
                  else "it looks much the same as before")
    return _reading(k, _rule(k["rules"], flags), findings, change, answers,
                    urgent_advice="This needs an urgent eye assessment.")
