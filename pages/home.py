"""Home: what effnets is, how it counts, where to start."""

import pandas as pd
import streamlit as st

from effnets.blocks import BLOCKS
from effnets.cost import EXTRA_LABELS
from effnets.ui import classroom

st.title("effnets: a lab for efficient CNN design")
st.markdown(
    "Pick a convolution block and see **exactly** what it costs and why; scale whole networks and see every stage; "
    "look at the kernels real networks learn; run a network on your own photo and see that FLOPs are not latency."
)
st.page_link(
    "pages/block_lab.py",
    label="Block Lab: every block type, live counts, formulas, diagrams",
    icon=":material/view_in_ar:",
)
st.page_link(
    "pages/scaling_lab.py",
    label="Scaling Lab: width, depth, resolution and φ; the exact cost beside the scaling law",
    icon=":material/trending_up:",
)
st.page_link(
    "pages/design_space.py",
    label="Design Space: the RegNet generator, MobileNet's α × ρ grid, ShuffleNet's groups, sampled spaces",
    icon=":material/scatter_plot:",
)
st.page_link(
    "pages/kernel_gallery.py",
    label="Kernel Gallery: real learned kernels - Gaussians before downsampling, edge detectors, identities",
    icon=":material/grid_on:",
)
st.page_link(
    "pages/inference_lab.py",
    label="Inference Lab: a real network on your photo, on the GPU when there is one; what each layer sees",
    icon=":material/image_search:",
)
st.page_link(
    "pages/network_builder.py",
    label="Network Builder: your own network as a stage table - exact counts per stage, scaling, a link, Python/ONNX",
    icon=":material/construction:",
)
st.page_link(
    "pages/network_inspector.py",
    label="Network Inspector: any torchvision or timm model, an ONNX file, or the diff of two networks",
    icon=":material/travel_explore:",
)
st.page_link(
    "pages/model_zoo.py",
    label="Model Zoo: exact cost, published accuracy and latency measured here; FLOPs are not latency",
    icon=":material/speed:",
)
st.page_link(
    "pages/latency_lab.py",
    label="Latency Lab: blocks at matched MACs on a measured roofline; ShuffleNetV2's guidelines G1-G4 measured",
    icon=":material/timer:",
)
st.page_link(
    "pages/reparameterization_lab.py",
    label="Reparameterization Lab: RepVGG and MobileOne train with branches and deploy as one conv - same function",
    icon=":material/merge:",
)

st.subheader("How effnets counts")
st.markdown(
    """
- **MACs**: multiply-accumulates of conv and linear layers (one fused multiply-add = 1, bias adds not counted).
  This is what the MobileNet, ShuffleNet and EfficientNet papers call "FLOPs" or "MAdds", and what torchvision's
  weight metadata reports.
- **FLOPs** = 2 × MACs, the unit of `torch.utils.flop_counter`. The app always says which one it shows.
- **Params**: learnable parameters, batch-norm and layer-norm γ and β and layer scales included. Buffers are not
  parameters: batch-norm running
  statistics and fixed kernels (VGNet's Gaussian and edge filters).
- Everything else is an explicit, opt-in line of its own, never hidden in the headline:
"""
    + "\n".join(f"  - **{k}**: {v}" for k, v in EXTRA_LABELS.items())
)
st.markdown(
    "Every count is computed analytically from the settings (no model is built) and checked against real tracers: "
    "`torch.utils.flop_counter` on the meta device, fvcore, and effnets' own op counter. When they disagree, the "
    "Block Lab says why."
)
st.subheader(f"The catalog: {len(BLOCKS)} block types")
classroom.table(
    pd.DataFrame([{"block": i.label, "layout": i.layout, "paper": i.paper} for i in BLOCKS.values()]),
    "catalog",
    key="home.csv_catalog",
    wrap=True,
)
