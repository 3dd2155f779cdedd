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

__all__ = ["CSP", "docs_page", "error_page", "form_page", "result_page"]

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


def _form(settings: ServiceSettings, values: dict[str, Any] | None = None) -> str:
    values = values or {}
    k = escape(str(values.get("k", DEFAULT_K)))
    max_iter = escape(str(values.get("max_iter", DEFAULT_MAX_ITER)))
    seed = escape(str(values.get("seed") if values.get("seed") is not None else ""))
    space = values.get("color_space", "rgb")
    min_region = escape(str(values.get("min_region") or 0))
    dither = bool(values.get("dither"))
    options = "".join(
        f'<option value="{v}"{" selected" if v == space else ""}>{label}</option>'
        for v, label in (("rgb", "RGB"), ("lab", "CIELAB"), ("oklab", "OKLab"))
    )
    accept = ",".join(f".{fmt.lower()}" for fmt in INPUT_FORMATS) + ",image/*"
    return (
        '<form class="upload" method="post" action="/" enctype="multipart/form-data">'
        f'<label>Image <input type="file" name="image" accept="{escape(accept)}" required></label>'
        f'<label>Number of segments K <input type="number" name="k" min="1" max="{settings.max_k}" '
        f'value="{k}" required></label>'
        f'<label>Max iterations <input type="number" name="max_iter" min="1" max="{settings.max_iter}" '
        f'value="{max_iter}" required></label>'
        f'<label>Colour space <select name="color_space">{options}</select></label>'
        f'<label>Seed (optional) <input type="number" name="seed" min="0" value="{seed}" '
        'placeholder="random"></label>'
        f'<label>Merge regions under (px) <input type="number" name="min_region" min="0" '
        f'max="{MIN_REGION_MAX:.0f}" value="{min_region}"></label>'
        f'<label>Dither <input type="checkbox" name="dither" value="true"{" checked" if dither else ""}></label>'
        '<button type="submit">Segment</button></form>'
        f'<p class="hint">Up to {settings.max_upload_mb:.3g} MB and {settings.max_pixels / 1e6:g} megapixels; '
        f"{escape(', '.join(INPUT_FORMATS))}. Your image is processed in memory, shown only to you, and not kept.</p>"
    )


def form_page(settings: ServiceSettings) -> str:
    """The upload form."""
    return _page("kmseg", _form(settings))


def error_page(
    error: ApiError, settings: ServiceSettings | None = None, values: dict[str, Any] | None = None
) -> str:
    """The form again, with what went wrong above it."""
    field = f" (field <code>{escape(error.field)}</code>)" if error.field else ""
    body = f'<p class="error" role="alert"><strong>Error {error.status}</strong>{field}: {escape(error.message)}</p>'
    if settings is not None:
        body += _form(settings, values)
    else:
        body += '<p><a href="/">Back to the form</a></p>'
    return _page(f"Error {error.status} - kmseg", body)


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
