"""The COCO model as a parked-car detector: the zones and class map the edge tests run on real footage with it.

The parking lot clip's parked cars stand in the ``parking`` zone (top right); ``kerb`` is a storefront zone.
"""

ZONES = """\
camera: cam-01
defaults: {dwell_s: 5, clear_s: 5, grace_s: 3}
zones:
  - id: parking
    kind: parking
    polygon: [[0.8, 0.0], [1.0, 0.0], [1.0, 0.25], [0.8, 0.25]]
    forbid: [disorderly_parking]
  - id: kerb
    merchant: m-1
    kind: storefront
    polygon: [[0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [0.0, 1.0]]
    forbid: [disorderly_parking, out_of_store_trading]
"""
CARS = "model: coco-cars\ndefault: ignore\nclasses: {car: disorderly_parking, truck: disorderly_parking}\n"
