"""
Airflow 3.3.2's connection pages as a user sees them in Chromium: the list, its row actions, and the form.

What the test reads and clicks, found in the 3.3.2 UI (``airflow/ui/dist``, React with Chakra UI):

- the list at ``/connections``; each row has "Test Connection" and "Edit Connection" buttons (aria labels);
  a test's outcome is a toast titled "Test Connection Successful" or "Test Connection Failed" whose text
  is the hook's message;
- the form is a dialog: "Connection ID", a "Connection Type" combobox (react-select), then a "Standard
  Fields" section (inputs named ``host``, ``port``, ``password``, ...) and a collapsed "Extra Fields"
  section where each field is a row holding a label, a control named ``element_<field>`` and a helper text
  (the description). Toggles are checkboxes, selects keep their value in a hidden input, strings with
  ``schema.examples`` have a ``<datalist id="list_<field>">``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playwright.sync_api import Locator, Page, expect

TIMEOUT_MS = 30_000
TOAST_TITLES = {True: "Test Connection Successful", False: "Test Connection Failed"}


@dataclass(frozen=True)
class ExtraField:
    """One extra field as the form shows it."""

    label: str
    required: bool
    description: str
    placeholder: str | None
    examples: list[str]
    value: str | bool | None
    """A toggle's state, a select's or text's value (``""`` when empty)."""


class ConnectionsPage:
    """The connection list and its dialog, in one browser tab."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        page.set_default_timeout(TIMEOUT_MS)

    @property
    def dialog(self) -> Locator:
        return self.page.get_by_role("dialog")

    def open_list(self) -> None:
        self.page.goto(f"{self.base_url}/connections")
        expect(self.page.get_by_role("button", name="Add Connection")).to_be_visible()

    def row(self, conn_id: str) -> Locator:
        return self.page.get_by_role("row").filter(
            has=self.page.get_by_role("cell", name=conn_id, exact=True)
        )

    def open_add_form(self, conn_id: str, hook_name: str) -> None:
        self.open_list()
        self.page.get_by_role("button", name="Add Connection").click()
        self.dialog.get_by_label("Connection ID").fill(conn_id)
        self.dialog.get_by_label("Connection Type").fill(hook_name)
        self.page.keyboard.press("Enter")
        expect(self.dialog.get_by_text("Extra Fields", exact=True)).to_be_visible()

    def open_edit_form(self, conn_id: str) -> None:
        self.open_list()
        self.row(conn_id).get_by_role("button", name="Edit Connection").click()
        expect(self.dialog.get_by_text("Extra Fields", exact=True)).to_be_visible()

    def expand(self, section: str) -> None:
        """Open the "Standard Fields" or "Extra Fields" section (opening one closes the other)."""
        trigger = self.dialog.get_by_role("button", name=section, exact=True)
        if trigger.get_attribute("aria-expanded") != "true":
            trigger.click()
        expect(trigger).to_have_attribute("aria-expanded", "true")

    # -- standard fields -----------------------------------------------------------------------------

    def standard_input(self, name: str) -> Locator:
        self.expand("Standard Fields")
        return self.dialog.locator(f"[name='{name}']")

    def standard_label(self, name: str) -> str:
        control_id = self.standard_input(name).get_attribute("id")
        return self.dialog.locator(f"label[for='{control_id}']").inner_text().strip()

    def fill_standard(self, **values: str) -> None:
        for name, value in values.items():
            self.standard_input(name).fill(value)

    # -- extra fields --------------------------------------------------------------------------------

    def extra_row(self, name: str) -> Locator:
        self.expand("Extra Fields")
        return self.dialog.locator("[data-scope='field'][data-part='root']").filter(
            has=self.page.locator(f"[name='element_{name}']")
        )

    def extra_field(self, name: str) -> ExtraField:
        row = self.extra_row(name)
        control = row.locator(f"[name='element_{name}']")
        label = row.locator("label[data-part='label']").first
        helper = row.locator("[data-part='helper-text']")
        kind = control.get_attribute("type")
        value: str | bool | None = control.is_checked() if kind == "checkbox" else control.input_value()
        examples = row.locator(f"datalist#list_{name} option")
        return ExtraField(
            label=label.inner_text().replace("*", "").strip(),
            required=label.get_attribute("data-required") is not None,
            description=helper.inner_text().strip() if helper.count() else "",
            placeholder=control.get_attribute("placeholder"),
            examples=[examples.nth(i).get_attribute("value") or "" for i in range(examples.count())],
            value=value,
        )

    def extra_names(self) -> list[str]:
        self.expand("Extra Fields")
        names = self.dialog.locator("[name^='element_']").evaluate_all("els => els.map(e => e.name)")
        return [name.removeprefix("element_") for name in names]

    # -- actions -------------------------------------------------------------------------------------

    def save(self) -> None:
        self.dialog.get_by_role("button", name="Save").click()
        expect(self.dialog).to_have_count(0)

    def test_connection(self, conn_id: str) -> tuple[bool, str]:
        """Click the row's Test button; return ``(succeeded, the toast's text)``."""
        self.open_list()
        self.row(conn_id).get_by_role("button", name="Test Connection").click()
        toast = self.page.locator("[data-scope='toast'][data-part='root']").filter(
            has_text=re.compile("|".join(TOAST_TITLES.values()))
        )
        expect(toast.first).to_be_visible()
        text = toast.first.inner_text()
        return TOAST_TITLES[True] in text, text
