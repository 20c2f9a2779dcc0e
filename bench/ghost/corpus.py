"""A generated corpus of files with planted metadata, shared by the ghost tests and benchmark.

Every sample carries identifying values (an author name, a camera, GPS coordinates, comments,
pictures) that a clean output must no longer contain. Audio needs ``ffmpeg``; everything else is
built with Pillow, pikepdf, python-docx, mutagen and plain zip/RIFF writing.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import io
import shutil
import struct
import subprocess
import wave
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pikepdf
from PIL import Image, ImageCms, PngImagePlugin, TiffImagePlugin

AUTHOR = "Alice Planted"
EDITOR = "Bob Later"
COMMENTER = "Carol Commenter"
CAMERA_MAKE = "GhostCam"
CAMERA_MODEL = "Phantom X1"
SERIAL = "SN-0451-GHOST"
SOFTWARE = "GhostEditor 2.1"
TAKEN = "2023:04:05 06:07:08"
COMMENT = "planted comment: shot from my balcony"
CITY = "Secretville"
COMPANY = "Ghost Corp"
CUSTOM_VALUE = "Project Nightjar"
BODY_TEXT = "Hello Ghost body text"
# Comment bodies are document content and stay; only their authors and dates are metadata.
COMMENT_BODY = "Please review this paragraph"
# The Eiffel Tower, as degrees / minutes / seconds and as decimals.
LATITUDE_DMS = (48.0, 51.0, 29.64)
LONGITUDE_DMS = (2.0, 17.0, 40.2)
LATITUDE = 48.8582333
LONGITUDE = 2.2945
ALTITUDE = 35.0
ORIENTATION = 6
IMAGE_SIZE = (96, 64)
AUDIO_SECONDS = 1.0

# Strings that must not survive shredding, whatever the format.
PLANTED_STRINGS = (AUTHOR, EDITOR, COMMENTER, CAMERA_MAKE, CAMERA_MODEL, SERIAL, COMMENT, CITY, COMPANY, CUSTOM_VALUE)


def xmp_packet() -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
        f' xmp:CreatorTool="{SOFTWARE}" photoshop:City="{CITY}">'
        f"<dc:creator><rdf:Seq><rdf:li>{AUTHOR}</rdf:li></rdf:Seq></dc:creator>"
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{COMMENT}</rdf:li></rdf:Alt></dc:description>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def planted_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE
    exif[0x0110] = CAMERA_MODEL
    exif[0x0112] = ORIENTATION
    exif[0x0131] = SOFTWARE
    exif[0x0132] = TAKEN
    exif[0x013B] = AUTHOR
    exif[0x8298] = f"(c) {AUTHOR}"
    details = exif.get_ifd(0x8769)
    details[0x9003] = TAKEN
    details[0x927C] = b"GHOSTNOTE\x00" + SERIAL.encode() + bytes(32)
    details[0xA431] = SERIAL
    details[0xA434] = "Ghost Lens 50mm"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = tuple(TiffImagePlugin.IFDRational(value) for value in LATITUDE_DMS)
    gps[3] = "E"
    gps[4] = tuple(TiffImagePlugin.IFDRational(value) for value in LONGITUDE_DMS)
    gps[5] = b"\x00"
    gps[6] = TiffImagePlugin.IFDRational(ALTITUDE)
    return exif


def iptc_app13() -> bytes:
    """An APP13 segment holding IPTC By-line, City, Keywords and Caption."""

    def dataset(number: int, value: str) -> bytes:
        raw = value.encode()
        return struct.pack(">BBBH", 0x1C, 2, number, len(raw)) + raw

    iim = dataset(80, AUTHOR) + dataset(90, CITY) + dataset(25, "ghost") + dataset(25, "secret") + dataset(120, COMMENT)
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iim)) + iim
    if len(iim) % 2:
        resource += b"\x00"
    payload = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def srgb_profile() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return bytes(profile.tobytes())


def picture(size: tuple[int, int] = IMAGE_SIZE) -> Image.Image:
    """A colourful gradient, so the compressed data is not trivially uniform."""
    width, height = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.linear_gradient("L").rotate(90).resize(size)
    return Image.merge("RGB", (red, green, blue)).resize((width, height))


def make_jpeg(path: Path, *, progressive: bool = False) -> Path:
    buffer = io.BytesIO()
    picture().save(
        buffer,
        format="JPEG",
        quality=90,
        exif=planted_exif().tobytes(),
        icc_profile=srgb_profile(),
        comment=COMMENT.encode(),
        xmp=xmp_packet(),
        progressive=progressive,
    )
    data = buffer.getvalue()
    # IPTC goes after the JFIF APP0; a vendor trailer (as phones append) goes after EOI.
    after_app0 = 4 + struct.unpack_from(">H", data, 4)[0]
    data = data[:after_app0] + iptc_app13() + data[after_app0:] + b"GHOSTTRAILER " + SERIAL.encode()
    path.write_bytes(data)
    return path


def make_png(path: Path) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", AUTHOR)
    info.add_text("Comment", COMMENT, zip=True)
    info.add_itxt("Description", f"{CITY} ünïcode", lang="en", tkey="Description")
    info.add_itxt("XML:com.adobe.xmp", xmp_packet().decode())
    info.add(b"tIME", struct.pack(">HBBBBB", 2023, 4, 5, 6, 7, 8))
    info.add(b"prVt", SERIAL.encode())
    picture().save(
        path,
        format="PNG",
        pnginfo=info,
        exif=planted_exif().tobytes(),
        icc_profile=srgb_profile(),
        dpi=(72, 72),
    )
    return path


def make_webp(path: Path) -> Path:
    picture().save(
        path,
        format="WEBP",
        quality=80,
        exif=planted_exif().tobytes(),
        xmp=xmp_packet(),
        icc_profile=srgb_profile(),
    )
    return path


def make_tiff(path: Path) -> Path:
    # A loaded Exif keeps its Exif/GPS sub-directories; Pillow's own (uncompressed) TIFF writer
    # writes them, libtiff's compressed path cannot.
    exif = Image.Exif()
    exif.load(planted_exif().tobytes())
    exif[270] = COMMENT
    exif[700] = xmp_packet()
    first = picture()
    second = picture().rotate(180)
    first.save(path, format="TIFF", exif=exif, save_all=True, append_images=[second], icc_profile=srgb_profile())
    return path


def make_gif(path: Path) -> Path:
    frames = [picture().convert("P"), picture().rotate(180).convert("P")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], loop=0, duration=100, comment=COMMENT)
    data = buffer.getvalue()
    # XMP in GIF: an application extension whose data is the raw packet plus a 258-byte "magic
    # trailer" that makes the packet bytes parse as sub-block lengths.
    magic_trailer = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    xmp_block = b"\x21\xff\x0bXMP DataXMP" + xmp_packet() + magic_trailer
    path.write_bytes(data[:-1] + xmp_block + data[-1:])
    return path


def make_pdf(path: Path, jpeg: Path) -> Path:
    """A one-page PDF with text, an EXIF-bearing JPEG, XMP, PieceInfo, an annotation, and an
    incremental update that replaces the Author (the old one stays in the earlier revision)."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    )
    with Image.open(jpeg) as image:
        width, height = image.size
    photo = pikepdf.Stream(pdf, jpeg.read_bytes())
    photo.Type = pikepdf.Name.XObject
    photo.Subtype = pikepdf.Name.Image
    photo.Width, photo.Height = width, height
    photo.ColorSpace = pikepdf.Name.DeviceRGB
    photo.BitsPerComponent = 8
    photo.Filter = pikepdf.Name.DCTDecode
    page = pdf.add_blank_page(page_size=(612, 792))
    page.Resources = pikepdf.Dictionary(
        Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(Im1=pdf.make_indirect(photo))
    )
    page.Contents = pdf.make_stream(
        f"BT /F1 24 Tf 72 720 Td ({BODY_TEXT}) Tj ET q {width} 0 0 {height} 72 500 cm /Im1 Do Q".encode()
    )
    page.obj.PieceInfo = pikepdf.Dictionary(
        GhostApp=pikepdf.Dictionary(LastModified=pikepdf.String("D:20230405060708Z"), Private=pikepdf.String(SERIAL))
    )
    page.obj.LastModified = pikepdf.String("D:20230405060708Z")
    page.obj.Metadata = pdf.make_stream(xmp_packet(), Type=pikepdf.Name.Metadata, Subtype=pikepdf.Name.XML)
    page.obj.Annots = pdf.make_indirect(
        pikepdf.Array(
            [
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Annot,
                    Subtype=pikepdf.Name.Text,
                    Rect=pikepdf.Array([72, 600, 92, 620]),
                    Contents=pikepdf.String("note"),
                    T=pikepdf.String(COMMENTER),
                    M=pikepdf.String("D:20230405060708Z"),
                )
            ]
        )
    )
    pdf.docinfo["/Author"] = AUTHOR
    pdf.docinfo["/Title"] = COMMENT
    pdf.docinfo["/Creator"] = SOFTWARE
    pdf.docinfo["/CreationDate"] = "D:20230405060708Z"
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = [AUTHOR]
        meta["photoshop:City"] = CITY
    base = io.BytesIO()
    pdf.save(base, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    path.write_bytes(append_incremental_info(base.getvalue(), EDITOR))
    return path


def append_incremental_info(data: bytes, author: str) -> bytes:
    """Append a hand-written incremental update whose new Info dictionary names ``author``."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        size = int(pdf.trailer.Size)
        root = pdf.Root.objgen
    previous = int(data[data.rindex(b"startxref") + len(b"startxref") :].split()[0])
    offset = len(data) + 1
    update = f"\n{size} 0 obj\n<< /Author ({author}) /Producer (GhostPDF 9) >>\nendobj\n".encode()
    xref_at = len(data) + len(update)
    update += (
        f"xref\n0 1\n0000000000 65535 f \n{size} 1\n{offset:010d} 00000 n \n"
        f"trailer\n<< /Size {size + 1} /Root {root[0]} {root[1]} R /Info {size} 0 R /Prev {previous} >>\n"
        f"startxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return data + update


def make_docx(path: Path, jpeg: Path) -> Path:
    import docx
    from docx.oxml.ns import qn
    from docx.shared import Inches

    document = docx.Document()
    paragraph = document.add_paragraph(BODY_TEXT)
    paragraph._p.set(qn("w:rsidR"), "00A1B2C3")
    paragraph._p.set(qn("w:rsidRDefault"), "00A1B2C3")
    paragraph.runs[0]._r.set(qn("w:rsidRPr"), "00D4E5F6")
    document.add_comment(paragraph.runs, text=COMMENT_BODY, author=COMMENTER, initials="CC")
    document.add_picture(str(jpeg), width=Inches(1))
    properties = document.core_properties
    properties.author = AUTHOR
    properties.last_modified_by = EDITOR
    properties.title = COMMENT
    properties.keywords = CITY
    properties.created = dt.datetime(2023, 4, 5, 6, 7, 8)
    properties.revision = 7
    settings = document.settings.element
    rsids = settings.makeelement(qn("w:rsids"), {})
    for value in ("00A1B2C3", "00D4E5F6"):
        rsids.append(settings.makeelement(qn("w:rsid"), {qn("w:val"): value}))
    settings.append(rsids)
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(add_package_extras(buffer.getvalue(), jpeg.read_bytes(), "word"))
    return path


CUSTOM_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"'
    ' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="ClientName">'
    f"<vt:lpwstr>{CUSTOM_VALUE}</vt:lpwstr></property></Properties>"
)
APP_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"'
    ' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    f"<Template>Normal.dotm</Template><TotalTime>42</TotalTime><Application>{SOFTWARE}</Application>"
    f"<Company>{COMPANY}</Company><Manager>{EDITOR}</Manager></Properties>"
)
CORE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
    ' xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    f"<dc:title>{COMMENT}</dc:title><dc:creator>{AUTHOR}</dc:creator>"
    f"<cp:lastModifiedBy>{EDITOR}</cp:lastModifiedBy><cp:revision>3</cp:revision>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">2023-04-05T06:07:08Z</dcterms:created>'
    '<dcterms:modified xsi:type="dcterms:W3CDTF">2023-04-05T06:07:08Z</dcterms:modified>'
    "</cp:coreProperties>"
)
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
THUMBNAIL_REL = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/thumbnail"
DOC_TIME = (2023, 4, 5, 6, 7, 8)


def add_package_extras(package: bytes, thumbnail: bytes, main_folder: str) -> bytes:
    """Give an OOXML package custom properties, an EXIF-laden thumbnail and richer app properties."""
    source = zipfile.ZipFile(io.BytesIO(package))
    output = io.BytesIO()
    with source, zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        names = set(source.namelist())
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "[Content_Types].xml":
                extra = b'<Override PartName="/docProps/custom.xml" ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/>'
                if b'Extension="jpeg"' not in data:
                    extra += b'<Default Extension="jpeg" ContentType="image/jpeg"/>'
                data = data.replace(b"</Types>", extra + b"</Types>")
            elif info.filename == "_rels/.rels":
                extra_rels = f'<Relationship Id="rIdCustom" Type="{CUSTOM_REL}" Target="docProps/custom.xml"/>'
                if THUMBNAIL_REL.encode() not in data:
                    extra_rels += (
                        f'<Relationship Id="rIdThumb" Type="{THUMBNAIL_REL}" Target="docProps/thumbnail.jpeg"/>'
                    )
                data = data.replace(b"</Relationships>", extra_rels.encode() + b"</Relationships>")
            elif info.filename == "docProps/app.xml":
                data = APP_XML.encode()
            elif info.filename == "docProps/thumbnail.jpeg":
                data = thumbnail
            target.writestr(zipfile.ZipInfo(info.filename, date_time=DOC_TIME), data, zipfile.ZIP_DEFLATED)
        target.writestr(zipfile.ZipInfo("docProps/custom.xml", date_time=DOC_TIME), CUSTOM_XML)
        if "docProps/thumbnail.jpeg" not in names:
            target.writestr(zipfile.ZipInfo("docProps/thumbnail.jpeg", date_time=DOC_TIME), thumbnail)
    return output.getvalue()


def _content_types(overrides: dict[str, str]) -> str:
    entries = "".join(f'<Override PartName="{part}" ContentType="{kind}"/>' for part, kind in overrides.items())
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f"{entries}</Types>"
    )


def _relationships(relations: list[tuple[str, str, str]]) -> str:
    entries = "".join(f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"/>' for rid, kind, target in relations)
    return f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{RELS_NS}">{entries}</Relationships>'


OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CORE_REL = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
APP_REL = f"{OFFICE_DOC}/extended-properties"
OOXML_CT = "application/vnd.openxmlformats-officedocument"


def _write_package(path: Path, parts: dict[str, str], thumbnail: bytes, main_folder: str) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=DOC_TIME), text)
    path.write_bytes(add_package_extras(buffer.getvalue(), thumbnail, main_folder))
    return path


def make_xlsx(path: Path, jpeg: Path) -> Path:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    parts = {
        "[Content_Types].xml": _content_types(
            {
                "/xl/workbook.xml": f"{OOXML_CT}.spreadsheetml.sheet.main+xml",
                "/xl/worksheets/sheet1.xml": f"{OOXML_CT}.spreadsheetml.worksheet+xml",
                "/docProps/core.xml": "application/vnd.openxmlformats-package.core-properties+xml",
                "/docProps/app.xml": f"{OOXML_CT}.extended-properties+xml",
            }
        ),
        "_rels/.rels": _relationships(
            [
                ("rId1", f"{OFFICE_DOC}/officeDocument", "xl/workbook.xml"),
                ("rId2", CORE_REL, "docProps/core.xml"),
                ("rId3", APP_REL, "docProps/app.xml"),
            ]
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<workbook xmlns="{main}" xmlns:r="{OFFICE_DOC}"'
            ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x15ac"'
            ' xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac">'
            '<fileVersion appName="xl" lastEdited="7" lowestEdited="7" rupBuild="27328"/>'
            f'<fileSharing readOnlyRecommended="1" userName="{AUTHOR}"/>'
            '<mc:AlternateContent><mc:Choice Requires="x15">'
            f'<x15ac:absPath url="C:\\Users\\{AUTHOR}\\Documents\\"/></mc:Choice></mc:AlternateContent>'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": _relationships([("rId1", f"{OFFICE_DOC}/worksheet", "worksheets/sheet1.xml")]),
        "xl/worksheets/sheet1.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{main}"><sheetData><row r="1"><c r="A1" t="inlineStr">'
            f"<is><t>{BODY_TEXT}</t></is></c></row></sheetData></worksheet>"
        ),
        "docProps/core.xml": CORE_XML,
        "docProps/app.xml": APP_XML,
    }
    return _write_package(path, parts, jpeg.read_bytes(), "xl")


def make_pptx(path: Path, jpeg: Path) -> Path:
    p = "http://schemas.openxmlformats.org/presentationml/2006/main"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    empty_tree = (
        '<p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>'
        "<p:grpSpPr/>{shapes}</p:spTree></p:cSld>"
    )
    text_shape = (
        '<p:sp><p:nvSpPr><p:cNvPr id="2" name="Text"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:spPr/>'
        f"<p:txBody><a:bodyPr/><a:p><a:r><a:t>{BODY_TEXT}</a:t></a:r></a:p></p:txBody></p:sp>"
    )
    theme = (
        f'{head}<a:theme xmlns:a="{a}" name="Ghost"><a:themeElements>'
        '<a:clrScheme name="Ghost"><a:dk1><a:srgbClr val="000000"/></a:dk1><a:lt1><a:srgbClr val="FFFFFF"/></a:lt1>'
        '<a:dk2><a:srgbClr val="1F497D"/></a:dk2><a:lt2><a:srgbClr val="EEECE1"/></a:lt2>'
        '<a:accent1><a:srgbClr val="4F81BD"/></a:accent1><a:accent2><a:srgbClr val="C0504D"/></a:accent2>'
        '<a:accent3><a:srgbClr val="9BBB59"/></a:accent3><a:accent4><a:srgbClr val="8064A2"/></a:accent4>'
        '<a:accent5><a:srgbClr val="4BACC6"/></a:accent5><a:accent6><a:srgbClr val="F79646"/></a:accent6>'
        '<a:hlink><a:srgbClr val="0000FF"/></a:hlink><a:folHlink><a:srgbClr val="800080"/></a:folHlink></a:clrScheme>'
        '<a:fontScheme name="Ghost"><a:majorFont><a:latin typeface="Arial"/><a:ea typeface=""/><a:cs typeface=""/>'
        '</a:majorFont><a:minorFont><a:latin typeface="Arial"/><a:ea typeface=""/><a:cs typeface=""/></a:minorFont>'
        '</a:fontScheme><a:fmtScheme name="Ghost"><a:fillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill>'
        '<a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill>'
        '</a:fillStyleLst><a:lnStyleLst><a:ln><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln>'
        '<a:ln><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln><a:ln><a:solidFill><a:schemeClr val="phClr"/>'
        "</a:solidFill></a:ln></a:lnStyleLst><a:effectStyleLst><a:effectStyle><a:effectLst/></a:effectStyle>"
        "<a:effectStyle><a:effectLst/></a:effectStyle><a:effectStyle><a:effectLst/></a:effectStyle></a:effectStyleLst>"
        '<a:bgFillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/>'
        '</a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:bgFillStyleLst></a:fmtScheme>'
        "</a:themeElements></a:theme>"
    )
    parts = {
        "[Content_Types].xml": _content_types(
            {
                "/ppt/presentation.xml": f"{OOXML_CT}.presentationml.presentation.main+xml",
                "/ppt/slides/slide1.xml": f"{OOXML_CT}.presentationml.slide+xml",
                "/ppt/slideLayouts/slideLayout1.xml": f"{OOXML_CT}.presentationml.slideLayout+xml",
                "/ppt/slideMasters/slideMaster1.xml": f"{OOXML_CT}.presentationml.slideMaster+xml",
                "/ppt/theme/theme1.xml": f"{OOXML_CT}.theme+xml",
                "/ppt/commentAuthors.xml": f"{OOXML_CT}.presentationml.commentAuthors+xml",
                "/ppt/comments/comment1.xml": f"{OOXML_CT}.presentationml.comments+xml",
                "/docProps/core.xml": "application/vnd.openxmlformats-package.core-properties+xml",
                "/docProps/app.xml": f"{OOXML_CT}.extended-properties+xml",
            }
        ),
        "_rels/.rels": _relationships(
            [
                ("rId1", f"{OFFICE_DOC}/officeDocument", "ppt/presentation.xml"),
                ("rId2", CORE_REL, "docProps/core.xml"),
                ("rId3", APP_REL, "docProps/app.xml"),
            ]
        ),
        "ppt/presentation.xml": (
            f'{head}<p:presentation xmlns:p="{p}" xmlns:a="{a}" xmlns:r="{OFFICE_DOC}">'
            '<p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/></p:sldMasterIdLst>'
            '<p:sldIdLst><p:sldId id="256" r:id="rId2"/></p:sldIdLst>'
            '<p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>'
        ),
        "ppt/_rels/presentation.xml.rels": _relationships(
            [
                ("rId1", f"{OFFICE_DOC}/slideMaster", "slideMasters/slideMaster1.xml"),
                ("rId2", f"{OFFICE_DOC}/slide", "slides/slide1.xml"),
                ("rId3", f"{OFFICE_DOC}/theme", "theme/theme1.xml"),
                ("rId4", f"{OFFICE_DOC}/commentAuthors", "commentAuthors.xml"),
            ]
        ),
        "ppt/slides/slide1.xml": (
            f'{head}<p:sld xmlns:p="{p}" xmlns:a="{a}" xmlns:r="{OFFICE_DOC}">'
            + empty_tree.format(shapes=text_shape)
            + "</p:sld>"
        ),
        "ppt/slides/_rels/slide1.xml.rels": _relationships(
            [
                ("rId1", f"{OFFICE_DOC}/slideLayout", "../slideLayouts/slideLayout1.xml"),
                ("rId2", f"{OFFICE_DOC}/comments", "../comments/comment1.xml"),
            ]
        ),
        "ppt/slideLayouts/slideLayout1.xml": (
            f'{head}<p:sldLayout xmlns:p="{p}" xmlns:a="{a}" xmlns:r="{OFFICE_DOC}">'
            + empty_tree.format(shapes="")
            + "</p:sldLayout>"
        ),
        "ppt/slideLayouts/_rels/slideLayout1.xml.rels": _relationships(
            [("rId1", f"{OFFICE_DOC}/slideMaster", "../slideMasters/slideMaster1.xml")]
        ),
        "ppt/slideMasters/slideMaster1.xml": (
            f'{head}<p:sldMaster xmlns:p="{p}" xmlns:a="{a}" xmlns:r="{OFFICE_DOC}">'
            + empty_tree.format(shapes="")
            + '<p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2"'
            ' accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink"'
            ' folHlink="folHlink"/><p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/>'
            "</p:sldLayoutIdLst></p:sldMaster>"
        ),
        "ppt/slideMasters/_rels/slideMaster1.xml.rels": _relationships(
            [
                ("rId1", f"{OFFICE_DOC}/slideLayout", "../slideLayouts/slideLayout1.xml"),
                ("rId2", f"{OFFICE_DOC}/theme", "../theme/theme1.xml"),
            ]
        ),
        "ppt/theme/theme1.xml": theme,
        "ppt/commentAuthors.xml": (
            f'{head}<p:cmAuthorLst xmlns:p="{p}">'
            f'<p:cmAuthor id="0" name="{COMMENTER}" initials="CC" lastIdx="1" clrIdx="0"/></p:cmAuthorLst>'
        ),
        "ppt/comments/comment1.xml": (
            f'{head}<p:cmLst xmlns:p="{p}"><p:cm authorId="0" dt="2023-04-05T06:07:08.000" idx="1">'
            f'<p:pos x="10" y="10"/><p:text>{COMMENT_BODY}</p:text></p:cm></p:cmLst>'
        ),
        "docProps/core.xml": CORE_XML,
        "docProps/app.xml": APP_XML,
    }
    return _write_package(path, parts, jpeg.read_bytes(), "ppt")


def untyped(module: str) -> Any:
    """Import a mutagen module as ``Any``: its classes are only partly annotated."""
    return importlib.import_module(module)


def _ffmpeg_sine(path: Path, *codec: str) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is required to build the audio samples")
    subprocess.run(
        [
            ffmpeg,
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={AUDIO_SECONDS}",
            *codec,
            str(path),
        ],
        check=True,
    )


def cover_art() -> bytes:
    buffer = io.BytesIO()
    picture((32, 32)).save(buffer, format="JPEG", exif=planted_exif().tobytes())
    return buffer.getvalue()


def make_mp3(path: Path) -> Path:
    apev2, id3 = untyped("mutagen.apev2"), untyped("mutagen.id3")

    _ffmpeg_sine(path, "-c:a", "libmp3lame", "-b:a", "64k")
    tags = id3.ID3()
    tags.add(id3.TIT2(encoding=3, text=COMMENT))
    tags.add(id3.TPE1(encoding=3, text=AUTHOR))
    tags.add(id3.TDRC(encoding=3, text="2023-04-05"))
    tags.add(id3.COMM(encoding=3, lang="eng", desc="", text=CITY))
    tags.add(id3.TXXX(encoding=3, desc="Serial", text=SERIAL))
    tags.add(id3.PRIV(owner="ghost@example.com", data=SERIAL.encode()))
    tags.add(id3.APIC(encoding=3, mime="image/jpeg", type=3, desc="cover", data=cover_art()))
    # The usual tail layout is audio, APEv2, then the 128-byte ID3v1 tag.
    ape = apev2.APEv2()
    ape["Artist"] = EDITOR
    ape.save(path)
    tags.save(path, v1=2)
    return path


def make_flac(path: Path) -> Path:
    flac = untyped("mutagen.flac")
    FLAC, Picture = flac.FLAC, flac.Picture

    _ffmpeg_sine(path, "-c:a", "flac")
    audio = FLAC(path)
    audio["ARTIST"] = AUTHOR
    audio["TITLE"] = COMMENT
    audio["LOCATION"] = CITY
    cover = Picture()
    cover.type, cover.mime, cover.desc, cover.data = 3, "image/jpeg", "cover", cover_art()
    audio.add_picture(cover)
    audio.save()
    return path


def make_ogg(path: Path) -> Path:
    Picture = untyped("mutagen.flac").Picture
    OggVorbis = untyped("mutagen.oggvorbis").OggVorbis

    _ffmpeg_sine(path, "-c:a", "libvorbis", "-q:a", "2")
    audio = OggVorbis(path)
    audio["ARTIST"] = AUTHOR
    audio["COMMENT"] = COMMENT
    audio["LOCATION"] = CITY
    cover = Picture()
    cover.type, cover.mime, cover.data = 3, "image/jpeg", cover_art()
    audio["METADATA_BLOCK_PICTURE"] = base64.b64encode(cover.write()).decode()
    audio.save()
    return path


def make_m4a(path: Path) -> Path:
    mp4 = untyped("mutagen.mp4")
    MP4, MP4Cover, MP4FreeForm = mp4.MP4, mp4.MP4Cover, mp4.MP4FreeForm

    _ffmpeg_sine(
        path,
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-metadata",
        "creation_time=2023-04-05T06:07:08Z",
        "-metadata",
        "location=+48.8582+002.2945/",
    )
    audio = MP4(path)
    audio["\xa9ART"] = AUTHOR
    audio["\xa9nam"] = COMMENT
    audio["\xa9day"] = "2023"
    audio["covr"] = [MP4Cover(cover_art(), imageformat=MP4Cover.FORMAT_JPEG)]
    audio["----:com.apple.iTunes:Serial"] = [MP4FreeForm(SERIAL.encode())]
    audio.save()
    return path


def _riff_chunk(chunk_id: bytes, data: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")


def make_wav(path: Path) -> Path:
    WAVE = untyped("mutagen.wave").WAVE
    id3 = untyped("mutagen.id3")

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        samples = [int(8000 * ((i % 40) / 20 - 1)) for i in range(int(8000 * AUDIO_SECONDS))]
        writer.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    data = buffer.getvalue()
    info = b"INFO" + b"".join(
        _riff_chunk(key, value.encode() + b"\x00")
        for key, value in ((b"INAM", COMMENT), (b"IART", AUTHOR), (b"ICMT", CITY), (b"ISFT", SOFTWARE))
    )
    bext = (
        COMMENT.encode().ljust(256, b"\x00") + AUTHOR.encode().ljust(32, b"\x00") + SERIAL.encode().ljust(32, b"\x00")
    )
    bext += b"2023-04-0506:07:08" + bytes(602 - 256 - 64 - 18)
    body = data[12:] + _riff_chunk(b"LIST", info) + _riff_chunk(b"bext", bext)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + 4) + b"WAVE" + body)
    audio = WAVE(path)
    audio.add_tags()
    audio.tags.add(id3.TPE1(encoding=3, text=EDITOR))
    audio.save()
    return path


Builder = Callable[[Path], Path]
SAMPLE_NAMES = {
    "jpeg": "photo.jpg",
    "png": "image.png",
    "webp": "image.webp",
    "tiff": "scan.tiff",
    "gif": "anim.gif",
    "pdf": "report.pdf",
    "docx": "letter.docx",
    "xlsx": "sheet.xlsx",
    "pptx": "deck.pptx",
    "mp3": "song.mp3",
    "flac": "song.flac",
    "ogg": "song.ogg",
    "m4a": "song.m4a",
    "wav": "memo.wav",
}


def build_sample(kind: str, directory: Path) -> Path:
    """Build one sample of ``kind`` (a :data:`SAMPLE_NAMES` key) inside ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / SAMPLE_NAMES[kind]
    if kind in ("pdf", "docx", "xlsx", "pptx"):
        jpeg = make_jpeg(directory / f".{kind}-embedded.jpg")
        builders: dict[str, Callable[[Path, Path], Path]] = {
            "pdf": make_pdf,
            "docx": make_docx,
            "xlsx": make_xlsx,
            "pptx": make_pptx,
        }
        result = builders[kind](target, jpeg)
        jpeg.unlink()
        return result
    simple: dict[str, Builder] = {
        "jpeg": make_jpeg,
        "png": make_png,
        "webp": make_webp,
        "tiff": make_tiff,
        "gif": make_gif,
        "mp3": make_mp3,
        "flac": make_flac,
        "ogg": make_ogg,
        "m4a": make_m4a,
        "wav": make_wav,
    }
    return simple[kind](target)


def build_corpus(directory: Path) -> dict[str, Path]:
    return {kind: build_sample(kind, directory) for kind in SAMPLE_NAMES}
