"""Map products: grids with IAU CRSs, inverse reprojection of framelets, photometry, colour,
mosaics, GeoTIFF/PNG export."""
