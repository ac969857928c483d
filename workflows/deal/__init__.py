"""The LicensingDeal workflow, split by concern; `workflows.licensing_deal` exports it."""
