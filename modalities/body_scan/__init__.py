"""3D body scan: one surface mesh of a standing person in; standing height, surface area, volume, waist and hip
circumferences and the waist-to-height and waist-to-hip ratios out, with the normalised mesh, a viewer model with
the measurement slices and a picture of them as result artifacts."""
