"""Networks from outside the registry: the user's own design (the Network Builder's stage table and its
architecture string), any torchvision or timm model by name, ONNX files, exports (standalone Python, ONNX, JSON,
the architecture string) and the diff of any two networks. Everything here reads what the user sends as data:
nothing is executed, evaluated or unpickled.

Every source ends in one :class:`effnets.networks.report.NetworkReport` (totals, stages, layers), which the pages,
the CLI and the diff read alike.
"""
