"""Server-rendered pages of the upload form: no JavaScript, images as data: URIs."""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from kmseg import INPUT_FORMATS, __version__, options
from kmseg.api._errors import ApiError
from kmseg.api._settings import ServiceSettings
from kmseg.api._work import PageResult

__all__ = ["CSP", "FIELD_LABELS", "KEEP_MINUTES", "docs_page", "error_page", "form_page", "result_page"]

DEFAULT_K = options.get("k").default_for("api")
DEFAULT_MAX_ITER = options.get("max_iter").default_for("api")
MIN_REGION_MAX = options.get("min_region").range.high

# Pages load nothing but themselves: inline styles and data: images only.
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;padding:1.5rem;max-width:1200px;margin:auto;color:#222}
h1{font-size:1.5rem;margin:.2rem 0 1rem} h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
form.upload{display:flex;flex-wrap:wrap;gap:.8rem 1.2rem;align-items:end;padding:1rem;
 border:1px solid #ccc;border-radius:8px;background:#fafafa}
form.upload label{display:flex;flex-direction:column;font-size:.9rem;gap:.25rem}
form.upload input[type=number]{width:7rem} form.upload button{padding:.45rem 1.2rem;font-size:1rem}
.hint{color:#555;font-size:.85rem;margin:.4rem 0 0}
.error{border:1px solid #c33;background:#fee;color:#800;padding:.6rem 1rem;border-radius:6px}
[aria-invalid=true]{outline:2px solid #c33} .kept{flex-basis:100%;margin:0;font-size:.9rem}
form.again{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.2rem 0 1rem}
form.again button{padding:.25rem .8rem}
.pair{display:flex;flex-wrap:wrap;gap:1rem} .pair figure{flex:1 1 380px;margin:0}
.pair img{width:100%;height:auto;border:1px solid #ddd;image-rendering:auto}
figcaption{font-size:.9rem;color:#444;margin-top:.3rem}
table{border-collapse:collapse} td,th{padding:.25rem .7rem;border-bottom:1px solid #eee;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.chip{display:inline-block;width:1.4rem;height:1.1rem;border:1px solid #888;border-radius:3px;vertical-align:middle}
.bar{display:inline-block;height:.7rem;background:#678;vertical-align:middle}
ul.downloads{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;padding-left:1.2rem}
footer{margin-top:2rem;color:#777;font-size:.8rem}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>kmseg: k-means colour segmentation</h1>{body}"
        f'<footer>kmseg {escape(__version__)} &middot; <a href="/docs">HTTP API</a></footer>'
        "</body></html>"
    )


#: The form's fields in words: its labels, and how a message names a field.
FIELD_LABELS = {
    "image": "Image",
    "k": "Number of segments K",
    "max_iter": "Max iterations",
    "color_space": "Colour space",
    "seed": "Seed",
    "min_region": "Merge regions under (px)",
    "spatial_weight": "Spatial weight",
    "dither": "Dither",
}
SPATIAL_HELP = options.get("spatial_weight").help
SPATIAL_MAX = options.get("spatial_weight").range.high
#: How long, and how many, uploads the page keeps for "try another K" (see _uploads).
KEEP_MINUTES = 15


def _field(name: str, control: str, invalid: str | None) -> str:
    """A labelled control; the one a message is about is marked invalid."""
    if name == invalid:
        control = control.replace("<input ", '<input aria-invalid="true" autofocus ', 1)
        control = control.replace("<select ", '<select aria-invalid="true" autofocus ', 1)
    return f"<label>{FIELD_LABELS[name]} {control}</label>"


def _hidden(values: dict[str, Any], leave_out: str) -> str:
    """The form's values as hidden fields (for the "try another K" buttons)."""
    out = []
    for name in ("max_iter", "color_space", "seed", "min_region", "spatial_weight", "upload"):
        if name != leave_out and values.get(name) not in (None, ""):
            out.append(f'<input type="hidden" name="{name}" value="{escape(str(values[name]))}">')
    if values.get("dither"):
        out.append('<input type="hidden" name="dither" value="true">')
    return "".join(out)


def _form(settings: ServiceSettings, values: dict[str, Any] | None = None, invalid: str | None = None) -> str:
    values = values or {}
    k = escape(str(values.get("k", DEFAULT_K)))
    max_iter = escape(str(values.get("max_iter", DEFAULT_MAX_ITER)))
    seed = escape(str(values.get("seed") if values.get("seed") is not None else ""))
    space = values.get("color_space", "rgb")
    min_region = escape(str(values.get("min_region") or 0))
    spatial = values.get("spatial_weight") or 0
    spatial = escape(f"{spatial:g}" if isinstance(spatial, float) else str(spatial))
    dither = bool(values.get("dither"))
    upload_id, upload_name = values.get("upload"), values.get("upload_name")
    spaces = "".join(
        f'<option value="{v}"{" selected" if v == space else ""}>{label}</option>'
        for v, label in (("rgb", "RGB"), ("lab", "CIELAB"), ("oklab", "OKLab"))
    )
    accept = ",".join(f".{fmt.lower()}" for fmt in INPUT_FORMATS) + ",image/*"
    kept = ""
    if upload_id and upload_name:
        kept = (f'<input type="hidden" name="upload" value="{escape(str(upload_id))}">'
                f'<p class="kept" id="kept">Image: <strong>{escape(str(upload_name))}</strong>, kept for '
                f"{KEEP_MINUTES} minutes: change the settings and press Segment again, or choose another file.</p>")
    required = "" if kept else " required"
    return (
        '<form class="upload" method="post" action="/" enctype="multipart/form-data">'
        + kept
        + _field("image", f'<input type="file" name="image" accept="{escape(accept)}"{required}>', invalid)
        + _field("k", f'<input type="number" name="k" min="1" max="{settings.max_k}" value="{k}" required>',
                 invalid)
        + _field("max_iter", f'<input type="number" name="max_iter" min="1" max="{settings.max_iter}" '
                 f'value="{max_iter}" required>', invalid)
        + _field("color_space", f'<select name="color_space">{spaces}</select>', invalid)
        + _field("seed", f'<input type="number" name="seed" min="0" value="{seed}" placeholder="random">',
                 invalid)
        + _field("min_region", f'<input type="number" name="min_region" min="0" max="{MIN_REGION_MAX:.0f}" '
                 f'value="{min_region}">', invalid)
        + _field("spatial_weight", f'<input type="number" name="spatial_weight" min="0" max="{SPATIAL_MAX:g}" '
                 f'step="any" value="{spatial}">', invalid)
        + _field("dither", f'<input type="checkbox" name="dither" value="true"{" checked" if dither else ""}>',
                 invalid)
        + '<button type="submit">Segment</button></form>'
        f'<p class="hint">Up to {settings.max_upload_mb:.3g} MB and {settings.max_pixels / 1e6:g} megapixels; '
        f"{escape(', '.join(INPUT_FORMATS))}. Your image is processed in memory and shown only to you; "
        f"it is kept in memory for {KEEP_MINUTES} minutes so you can try other settings without choosing it "
        "again, and never written to disk.</p>"
        f'<p class="hint" id="spatial-hint"><strong>Spatial weight</strong>: the {escape(SPATIAL_HELP)}. '
        "Above 0, far-apart areas of one colour become different segments, and the higher it is, the more "
        "the segments become compact blobs of similar size; try 0.5 to 5.</p>"
        + _token_hint(settings)
    )


def form_page(settings: ServiceSettings) -> str:
    """The upload form."""
    return _page("kmseg", _form(settings))


def _token_hint(settings: ServiceSettings) -> str:
    if settings.token is None:
        return ""
    return ('<p class="hint" id="token-hint">This server needs a token: when you press Segment, your browser '
            "asks for a user name (any) and a password (the token).</p>")


def _error_heading(error: ApiError) -> str:
    """What went wrong, in words: the field at fault by its label, or the kind of refusal."""
    if error.field == "image":
        return {413: "The image is too large", 415: "The image is in a format kmseg does not read"}.get(
            error.status, "The image cannot be used")
    if error.field in FIELD_LABELS:
        return f"Check \u201c{FIELD_LABELS[error.field]}\u201d"
    if error.field:
        return f"Check \u201c{error.field}\u201d"
    return {401: "This server needs a token", 408: "The upload was too slow", 429: "Too many requests",
            503: "The server is busy"}.get(error.status, "The image was not segmented")


def error_page(
    error: ApiError, settings: ServiceSettings | None = None, values: dict[str, Any] | None = None
) -> str:
    """The form again, with what went wrong above it (the field at fault named in words)."""
    heading = _error_heading(error)
    body = (f'<p class="error" role="alert" data-status="{error.status}" data-field="{escape(error.field or "")}">'
            f"<strong>{escape(heading)}</strong>: {escape(error.message)}</p>")
    if settings is not None:
        body += _form(settings, values, invalid=error.field)
    else:
        body += '<p><a href="/">Back to the form</a></p>'
    return _page(f"{heading} - kmseg", body)


def _other_ks(k: int, max_k: int) -> list[int]:
    """A few K to try next, around and beyond the one shown."""
    near = {k - 2, k - 1, k + 1, k + 2, max(2, k // 2), 2 * k}
    return sorted(x for x in near if 2 <= x <= max_k and x != k)


def _again(settings: ServiceSettings, values: dict[str, Any], k: int) -> str:
    """Buttons that segment the kept upload again with another K (no script, no new upload)."""
    if not values.get("upload"):
        return ""
    buttons = "".join(f'<button type="submit" name="k" value="{x}">{x}</button>' for x in _other_ks(k, settings.max_k))
    return ('<form class="again" id="again" method="post" action="/" enctype="multipart/form-data">'
            f"{_hidden(values, 'k')}<span>Try another K with the same image: </span>{buttons}</form>")


def _safe_stem(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "image"


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return escape(str(value))


def result_page(settings: ServiceSettings, result: PageResult, values: dict[str, Any]) -> str:
    """Original and segmented image side by side, palette, figures, downloads."""
    s = result.summary
    stem = _safe_stem(result.filename_stem)
    width, height = s["width"], s["height"]
    rows = []
    for i, (hex_, count, share) in enumerate(zip(s["palette"], s["counts"], s["shares"], strict=True)):
        hex_ = escape(str(hex_))
        rows.append(
            f'<tr><td class="num">{i}</td><td><span class="chip" style="background:{hex_}"></span> '
            f'<code>{hex_}</code></td><td class="num">{int(count):,}</td>'
            f'<td class="num">{100 * float(share):.1f}%</td>'
            f'<td><span class="bar" style="width:{max(1, round(200 * float(share)))}px"></span></td></tr>'
        )
    figures = [
        ("Clusters found / asked", f"{s['k']} / {s['k_requested']}"),
        ("Iterations", f"{s['n_iter']} ({'converged' if s['converged'] else 'not converged'})"),
        ("Inertia", _fmt(s.get("inertia"), 1)),
        ("PSNR", "identical" if s.get("psnr") is None else f"{s['psnr']:.2f} dB"),
        ("Mean / p95 &Delta;E (CIEDE2000)", f"{_fmt(s.get('delta_e_mean'))} / {_fmt(s.get('delta_e_p95'))}"),
        ("Colour space", escape(str(s["color_space"]))),
        ("Seed", escape(str(s["seed"]))),
        ("Size", f"{width} &times; {height} px ({width * height / 1e6:.2f} MP)"),
    ]
    if s.get("regions") is not None:
        figures.append(("Regions (before / after merging)", f"{int(s['regions_before']):,} / {int(s['regions']):,}"))
    figures += [
        ("Clustering time", f"{float(s.get('seconds') or 0):.3f} s"),
        ("Server time", f"{result.server_seconds:.3f} s"),
    ]
    notes = "".join(f"<li>{escape(str(n))}</li>" for n in s.get("notes") or [])
    downloads = [
        (result.segmented_uri, f"{stem}-k{s['k']}.png", "Segmented image (PNG)"),
        (result.labels_uri, f"{stem}-k{s['k']}-labels.png", "Label map (PNG, pixel = cluster index)"),
    ] + [
        (uri, f"{stem}-k{s['k']}-palette.{fmt}", f"Palette ({fmt.upper()})")
        for fmt, uri in result.palette_uris.items()
    ]
    body = (
        _form(settings, values)
        + f"<h2>Result: {s['k']} colours</h2>"
        + _again(settings, values, int(s["k_requested"]))
        + '<div class="pair">'
        + f'<figure><img id="original" src="{result.original_uri}" alt="Original image" '
        f'width="{width}" height="{height}"><figcaption>Original</figcaption></figure>'
        + f'<figure><img id="segmented" src="{result.segmented_uri}" alt="Segmented image, {s["k"]} colours" '
        f'width="{width}" height="{height}"><figcaption>Segmented, K = {s["k"]}</figcaption></figure>'
        + "</div>"
        + '<h2>Palette</h2><table id="palette"><thead><tr><th>#</th><th>Colour</th><th>Pixels</th>'
        "<th>Share</th><th></th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + '<h2>Figures</h2><table id="figures"><tbody>'
        + "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in figures)
        + "</tbody></table>"
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
        + '<h2>Downloads</h2><ul class="downloads">'
        + "".join(
            f'<li><a href="{uri}" download="{escape(name)}">{label}</a></li>'
            for uri, name, label in downloads
        )
        + "</ul>"
    )
    return _page(f"kmseg: {s['k']} colours", body)


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _schema_type(prop: dict[str, Any]) -> str:
    """A field's type and bounds in words, from its JSON schema."""
    kinds = []
    for item in prop.get("anyOf", [prop]):
        if "const" in item:
            kinds.append(repr(item["const"]))
        elif "enum" in item:
            kinds.append("one of " + ", ".join(item["enum"]))
        elif item.get("contentMediaType") or item.get("format") == "binary":
            kinds.append("a file")
        elif item.get("type") != "null":
            text = {"integer": "a whole number", "number": "a number", "boolean": "true or false"}.get(
                item.get("type", ""), item.get("type", "text"))
            if "minimum" in item and "maximum" in item:
                text += f" from {_number(item['minimum'])} to {_number(item['maximum'])}"
            kinds.append(text)
    return ", or ".join(kinds)


def docs_page(schema: dict[str, Any]) -> str:
    """The API's endpoints and form fields, read from its OpenAPI schema: no script, nothing fetched."""
    parts = [f"<p>{escape(schema['info'].get('description', '')).strip()}</p>",
             '<p>The machine-readable schema: <a href="/openapi.json">/openapi.json</a>.</p>',
             '<h2>Endpoints</h2><table id="endpoints"><tbody>']
    forms: dict[str, list[str]] = {}
    for path, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            parts.append(f"<tr><td><code>{escape(method.upper())} {escape(path)}</code></td>"
                         f"<td>{escape(operation.get('summary', ''))}</td></tr>")
            for content in operation.get("requestBody", {}).get("content", {}).values():
                forms.setdefault(content["schema"].get("$ref", ""), []).append(path)
    parts.append("</tbody></table>")
    components = schema.get("components", {}).get("schemas", {})
    for ref, paths in forms.items():
        model = components.get(ref.rsplit("/", 1)[-1], {})
        required = set(model.get("required", []))
        rows = "".join(
            f"<tr><td><code>{escape(name)}</code>{' (required)' if name in required else ''}</td>"
            f"<td>{escape(_schema_type(prop))}</td>"
            f"<td>{escape(json.dumps(prop['default'])) if 'default' in prop else '&ndash;'}</td>"
            f"<td>{escape(prop.get('description', ''))}</td></tr>"
            for name, prop in model.get("properties", {}).items()
        )
        parts.append(f"<h2>The form of {escape(', '.join(paths))}</h2>"
                     "<p>multipart/form-data; any other field is refused (422).</p>"
                     "<table><thead><tr><th>Field</th><th>Values</th><th>Default</th><th>Meaning</th>"
                     f"</tr></thead><tbody>{rows}</tbody></table>")
    return _page("kmseg HTTP API", "".join(parts))
