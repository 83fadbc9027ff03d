"""The compliance report files, one module per format, each rendered from a `ComplianceModel` alone.

- `findings_json` -> findings.json: the model itself, plus a summary and a nested view (and the model read back).
- `controls_csv` -> controls.csv: one row per baseline control, for spreadsheets.
- `markdown` -> report.md: the human summary, for a browser or a pull request.
- `html` -> report.html: the same model for people, one static page readable offline, each control traced to its
  rules and resources.
- `sarif` -> report.sarif: open and acknowledged findings, for code-scanning viewers.
- `junit` -> junit.xml: one test case per scope and rule, for CI test tabs.

Each reads fields of the model, never prose another module wrote, and none imports another format's module
(`common` holds what they share; `attention`, the first section report.md and report.html both open with: what
changed since the baseline, what is open, what needs the authorizing official). The standard library and orjson
only: they import without the CDK or jsii.
"""
