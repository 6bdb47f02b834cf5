"""The report's words in Thai and English, and how numbers are written.

Numbers use the same separators in both languages (Thai official documents write
``1,234.56``), one function per kind of figure so that the CSV and the HTML print the very
same digits: percentages with two decimals, minutes with one, seconds whole.
"""

from __future__ import annotations

import math

TEXT: dict[str, dict[str, str]] = {
    "title": {
        "th": "รายงานความครอบคลุมและระดับการให้บริการอินเทอร์เน็ตสาธารณะ {period}",
        "en": "Public internet coverage and service level report for {period}",
    },
    "subtitle": {
        "th": "สำหรับกระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคม · จุดบริการ Wi-Fi หมู่บ้านทั่วประเทศ",
        "en": "For the Ministry of Digital Economy and Society · village Wi-Fi sites nationwide",
    },
    "summary": {"th": "สรุปสำหรับผู้บริหาร", "en": "Summary"},
    "summary_text": {
        "th": "ในช่วง{period} จุดบริการ {seen} จาก {sites} แห่งมีข้อมูลการตรวจวัด "
              "ความพร้อมใช้งานรวมทั้งประเทศ {availability} (เป้าหมาย SLA {sla}) "
              "หมู่บ้านที่ได้รับบริการตามเป้าหมาย {served} จาก {villages} หมู่บ้าน",
        "en": "During {period}, {seen} of {sites} sites were monitored. National "
              "availability was {availability} (SLA target {sla}); {served} of {villages} "
              "villages were served at the SLA.",
    },
    "availability": {"th": "ความพร้อมใช้งาน", "en": "Availability"},
    "completeness": {"th": "ความครบถ้วนของข้อมูล", "en": "Data completeness"},
    "sites": {"th": "จุดบริการ", "en": "Sites"},
    "sites_seen": {"th": "มีข้อมูล", "en": "Seen"},
    "sites_below_sla": {"th": "ต่ำกว่า SLA", "en": "Below SLA"},
    "villages": {"th": "หมู่บ้าน", "en": "Villages"},
    "villages_served": {"th": "หมู่บ้านที่ได้รับบริการ", "en": "Villages served"},
    "mttr": {"th": "เวลาเฉลี่ยในการแก้ไข (นาที)", "en": "MTTR (minutes)"},
    "outage_minutes": {"th": "นาทีที่ใช้งานไม่ได้", "en": "Outage minutes"},
    "outages": {"th": "จำนวนครั้ง", "en": "outages"},
    "unseen_sites": {"th": "จุดบริการที่ไม่มีข้อมูล", "en": "Sites never seen"},
    "cause_equipment": {"th": "อุปกรณ์ของจุดบริการ", "en": "Site equipment"},
    "cause_upstream": {"th": "โครงข่ายต้นทาง", "en": "Upstream network"},
    "cause_unknown": {"th": "ไม่ทราบสาเหตุ", "en": "Unknown"},
    "cause_power": {"th": "ไฟฟ้าดับ", "en": "Power cut"},
    "by_province": {"th": "ความพร้อมใช้งานรายจังหวัด", "en": "Availability by province"},
    "map": {"th": "แผนที่จุดบริการตามความพร้อมใช้งาน", "en": "Sites by availability"},
    "by_cause": {"th": "นาทีที่ใช้งานไม่ได้ แยกตามสาเหตุ", "en": "Outage minutes by cause"},
    "by_day": {"th": "ความพร้อมใช้งานรายวัน", "en": "Availability by day"},
    "worst": {"th": "จุดบริการที่มีความพร้อมใช้งานต่ำสุด 20 แห่ง",
              "en": "The 20 sites with the lowest availability"},
    "never_seen": {"th": "จุดบริการที่ไม่มีข้อมูลตลอดช่วงรายงาน",
                   "en": "Sites never seen in the period"},
    "never_seen_none": {"th": "ไม่มี — ทุกจุดบริการมีข้อมูล", "en": "None: every site was seen."},
    "more_in_csv": {"th": "และอีก {n} แห่ง (ดู sites.csv)", "en": "and {n} more (see sites.csv)"},
    "plan": {"th": "ความก้าวหน้าเทียบกับแผน", "en": "Progress against plan"},
    "planned_sites": {"th": "จุดบริการตามแผน", "en": "Planned sites"},
    "planned_villages": {"th": "หมู่บ้านตามแผน", "en": "Planned villages"},
    "installed": {"th": "ติดตั้งแล้ว", "en": "Installed"},
    "links": {"th": "ลิงก์โครงข่ายหลักที่มีการใช้งานสูง (p95 เกิน {threshold})",
              "en": "Backbone links above {threshold} utilisation (p95)"},
    "links_none": {"th": "ไม่มีลิงก์ที่เกินเกณฑ์", "en": "No link above the threshold."},
    "link": {"th": "ลิงก์", "en": "Link"},
    "direction": {"th": "ทิศทาง", "en": "Direction"},
    "p95": {"th": "การใช้งาน p95", "en": "p95 utilisation"},
    "provinces_table": {"th": "ตัวเลขรายจังหวัด", "en": "Figures by province"},
    "province": {"th": "จังหวัด", "en": "Province"},
    "district": {"th": "อำเภอ", "en": "District"},
    "site": {"th": "จุดบริการ", "en": "Site"},
    "village": {"th": "หมู่บ้าน", "en": "Village"},
    "incidents": {"th": "เหตุขัดข้อง", "en": "Incidents"},
    "status": {"th": "สถานะ", "en": "Status"},
    "meets": {"th": "ผ่าน", "en": "meets SLA"},
    "below": {"th": "ไม่ผ่าน", "en": "below SLA"},
    "far_below": {"th": "ต่ำมาก", "en": "far below"},
    "unseen": {"th": "ไม่มีข้อมูล", "en": "never seen"},
    "new_site": {"th": "ติดตั้งระหว่างช่วง", "en": "commissioned in period"},
    "sla_line": {"th": "เป้าหมาย SLA", "en": "SLA target"},
    "no_data": {"th": "ไม่มีข้อมูล", "en": "no data"},
    "definitions": {"th": "นิยาม", "en": "Definitions"},
    "parameters": {"th": "พารามิเตอร์ของรายงาน", "en": "Report parameters"},
    "def_monitored": {
        "th": "เวลาที่ตรวจวัด (monitored_seconds): เวลาในช่วงรายงานที่ pubnet ทราบสถานะของจุดบริการ "
              "เวลาที่ pubnet ไม่ได้ทำงานนับเป็นเวลาที่ไม่ได้ตรวจวัด ไม่นับเป็นใช้งานได้หรือไม่ได้",
        "en": "monitored_seconds: the time in the period that pubnet had a status for the site; "
              "time when pubnet itself was not running is unmonitored, neither up nor down.",
    },
    "def_maintenance": {
        "th": "เวลาบำรุงรักษา (maintenance_seconds): ส่วนของเวลาที่ตรวจวัดซึ่งอยู่ในช่วงปิดปรับปรุง"
              "ที่ครอบคลุมจุดบริการ (ระดับจุดบริการ อำเภอ จังหวัด หรืออุปกรณ์ของจุดบริการ) "
              "ไม่นับเป็นใช้งานได้และไม่นับเป็นเวลาตรวจวัด",
        "en": "maintenance_seconds: the part of the monitored time inside a maintenance window "
              "of the site (scope site, district, province or one of its devices); it counts "
              "neither as up nor as monitored.",
    },
    "def_availability": {
        "th": "ความพร้อมใช้งาน = 100 × เวลาที่ใช้งานได้ ÷ (เวลาที่ตรวจวัด − เวลาบำรุงรักษา) "
              "ค่าระดับอำเภอ จังหวัด และประเทศถ่วงน้ำหนักด้วยเวลาของแต่ละจุดบริการ ไม่ใช่ค่าเฉลี่ยของร้อยละ",
        "en": "availability_pct = 100 × up_seconds ÷ (monitored_seconds − maintenance_seconds). "
              "District, province and national figures are weighted by site-time (sum of up "
              "over sum of monitored), not averages of percentages.",
    },
    "def_site_up": {
        "th": "จุดบริการใช้งานได้เมื่อเกตเวย์และจุดกระจายสัญญาณอย่างน้อยหนึ่งตัวตอบสนอง "
              "(จุดที่ไม่มีจุดกระจายสัญญาณใช้สถานะของเกตเวย์)",
        "en": "A site is up while its gateway and at least one access point answer (a site "
              "without access points follows its gateway).",
    },
    "def_causes": {
        "th": "สาเหตุ: อุปกรณ์ของจุดบริการ = เหตุขัดข้องที่ต้นเหตุคืออุปกรณ์ของจุดบริการเอง "
              "โครงข่ายต้นทาง = จุดบริการได้รับผลกระทบจากเหตุขัดข้องที่อยู่เหนือขึ้นไป "
              "(backhaul โหนดอำเภอหรือจังหวัด ลิงก์หลัก) ไม่ทราบสาเหตุ = ไม่มีเหตุขัดข้องครอบคลุม "
              "(สั้นกว่าเวลาตรวจจับ หรือปิดระบบแจ้งเตือน) ไฟฟ้าดับ = จุดบริการอยู่ในเหตุไฟฟ้าดับ "
              "ที่ระบบแจ้งเตือนจัดกลุ่มไว้ (หลายจุดดับพร้อมกันขณะที่เราเตอร์ต้นทางยังทำงาน) "
              "ช่วงเวลาที่เป็นไฟฟ้าดับไม่นับเป็นสาเหตุอื่น",
        "en": "Causes: equipment, the site's own device was the incident's root; upstream, "
              "the site was in the impact of an incident rooted above it (backhaul, district "
              "or provincial node, backbone link); unknown, no incident covered it (shorter "
              "than the detection delay, or alerting was off); power, the site was in a "
              "power-cut incident (many sites dark at once while their routers answer), "
              "which takes precedence: that time counts against neither the site's "
              "equipment nor the upstream network.",
    },
    "def_never_seen": {
        "th": "จุดบริการที่ไม่มีข้อมูลตลอดช่วงรายงานแสดงเป็น \"ไม่มีข้อมูล\" ไม่ใช่ 0% หรือ 100% "
              "หมู่บ้านได้รับบริการเมื่อมีจุดบริการอย่างน้อยหนึ่งแห่งที่ผ่าน SLA",
        "en": "A site never seen in the period is listed as never seen, not as 0 % or 100 %. "
              "A village is served when at least one of its sites met the SLA.",
    },
    "def_completeness": {
        "th": "ความครบถ้วนของข้อมูล = เวลาที่ตรวจวัด ÷ เวลาที่ควรตรวจวัด (ส่วนของช่วงที่ผ่านมาแล้ว; "
              "หรือสัดส่วนตัวอย่างที่มีจริงเมื่ออ่านจาก Prometheus) จุดบริการที่ติดตั้งระหว่างช่วง "
              "(พบครั้งแรกหลังจากที่ pubnet เริ่มตรวจวัดแล้ว) คิดตามสัดส่วนตั้งแต่เวลาที่เริ่มพบ",
        "en": "Completeness: monitored time over expected time, the part of the period "
              "already past (from Prometheus: samples present over samples expected). Sites "
              "commissioned during the period (first seen after pubnet was already watching) "
              "are prorated from when they were first seen, and flagged.",
    },
    "def_mttr": {
        "th": "เวลาเฉลี่ยในการแก้ไข (MTTR) = นาทีที่ใช้งานไม่ได้นอกช่วงบำรุงรักษา ÷ จำนวนครั้งที่ใช้งานไม่ได้",
        "en": "MTTR: outage minutes outside maintenance over the number of outages.",
    },
    "def_prometheus": {
        "th": "ข้อมูลจาก Prometheus: ตัวอย่าง pubnet_site_up แต่ละค่าแทนสัดส่วนเวลาของตน "
              "ความพร้อมใช้งานคือสัดส่วนของตัวอย่างที่มีค่า 1 ในบรรดาตัวอย่างนอกช่วงบำรุงรักษา",
        "en": "From Prometheus each sample of pubnet_site_up stands for its share of time: "
              "availability is the fraction of samples equal to 1 among the samples outside "
              "maintenance.",
    },
    "param_period": {"th": "ช่วงเวลา", "en": "Period"},
    "param_source": {"th": "แหล่งข้อมูล", "en": "Source"},
    "param_sla": {"th": "เป้าหมาย SLA", "en": "SLA target"},
    "param_generated": {"th": "สร้างเมื่อ", "en": "Generated"},
    "param_version": {"th": "รุ่นของ pubnet", "en": "pubnet version"},
    "param_inventory": {"th": "ทะเบียนอุปกรณ์", "en": "Inventory"},
    "param_timezone": {"th": "เขตเวลา", "en": "Time zone"},
    "page": {"th": "หน้า", "en": "Page"},
    "col_avail": {"th": "พร้อมใช้ (%)", "en": "Avail. (%)"},
    "col_complete": {"th": "ครบถ้วน (%)", "en": "Complete (%)"},
    "col_equipment": {"th": "อุปกรณ์ (นาที)", "en": "Equipment (min)"},
    "col_upstream": {"th": "ต้นทาง (นาที)", "en": "Upstream (min)"},
    "col_unknown": {"th": "ไม่ทราบ (นาที)", "en": "Unknown (min)"},
    "col_power": {"th": "ไฟฟ้าดับ (นาที)", "en": "Power cut (min)"},
    "col_mttr": {"th": "MTTR (นาที)", "en": "MTTR (min)"},
    "col_seen": {"th": "มีข้อมูล", "en": "Seen"},
    "col_below": {"th": "ต่ำกว่า SLA", "en": "Below SLA"},
    "col_villages": {"th": "หมู่บ้าน", "en": "Villages"},
    "col_served": {"th": "ได้รับบริการ", "en": "Served"},
    "col_where": {"th": "อำเภอ / จังหวัด", "en": "District / province"},
    "national": {"th": "ทั้งประเทศ", "en": "National"},
    "day": {"th": "วันที่", "en": "Day"},
    "minutes": {"th": "นาที", "en": "minutes"},
    "total": {"th": "รวม", "en": "Total"},
}


def t(key: str, lang: str, **values: object) -> str:
    """The text ``key`` in ``lang`` with ``{name}`` fields filled."""
    template = TEXT[key][lang]
    return template.format(**values) if values else template


def pct(value: float | None) -> str:
    """A percentage as both outputs print it: ``99.95``; empty for no value."""
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.2f}"


def minutes(seconds: float) -> str:
    """Seconds as minutes with one decimal: ``12.5``."""
    return f"{seconds / 60.0:.1f}"


def whole(seconds: float) -> str:
    return f"{round(seconds):d}"


def grouped(text: str) -> str:
    """``1234567.5`` → ``1,234,567.5`` (the same in Thai and English)."""
    if not text:
        return text
    sign = "-" if text.startswith("-") else ""
    body = text.lstrip("-")
    head, dot, tail = body.partition(".")
    parts: list[str] = []
    while len(head) > 3:
        parts.insert(0, head[-3:])
        head = head[:-3]
    parts.insert(0, head)
    return sign + ",".join(parts) + dot + tail


def pct_text(value: float | None, lang: str) -> str:
    """A percentage for reading: ``99.95 %``, or "no data"."""
    return t("no_data", lang) if value is None else f"{pct(value)}\u00a0%"
