"""JUnit XML of a run: one testcase per variant run; a failure when the outcome differs from its
expectation, skipped for skips. CI systems (GitLab, Jenkins, GitHub actions) read this format."""

import xml.etree.ElementTree as ET


def to_xml(rec):
    results = rec["results"]
    failures = sum(1 for r in results if r["match"] == "no")
    skipped = sum(1 for r in results if r["match"] == "skip")
    suite = ET.Element("testsuite", name=f"reprolab {rec['run_id']}", tests=str(len(results)),
                       failures=str(failures), errors="0", skipped=str(skipped),
                       timestamp=rec.get("started") or "", hostname=str(rec["host"].get("hostname") or ""))
    props = ET.SubElement(suite, "properties")
    for key in ("kernel", "cgroup", "engine", "runc", "os"):
        ET.SubElement(props, "property", name=key, value=str(rec["host"].get(key)))
    for r in results:
        name = f"{r['variant']}@{r['suite']}" + (f"#{r['repeat']}" if r.get("repeat") else "")
        case = ET.SubElement(suite, "testcase", classname=r["scenario"], name=name,
                             time=f"{r.get('seconds', 0):.2f}")
        if r["match"] == "no":
            f = ET.SubElement(case, "failure", message=f"outcome {r['outcome']}, expected {r['expected']}",
                              type=r["outcome"])
            f.text = r.get("reason") or ""
        elif r["match"] == "skip":
            ET.SubElement(case, "skipped", message=r.get("reason") or "skipped")
        out = ET.SubElement(case, "system-out")
        out.text = f"evidence: {r.get('evidence')}\nversions: {r.get('versions')}\nlog: {r.get('log')}"
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
