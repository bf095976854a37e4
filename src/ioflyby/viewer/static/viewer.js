/* ioflyby viewer: Leaflet on Io's geographic tile matrix set (planetcantile IoGeographicSphere).
   Coordinates: planetocentric latitude, east-positive longitude in degrees; shown in degrees E and W. */
"use strict";
(function () {
  const IO_RADIUS_M = 1821490;  // IAU 2015 mean sphere of Io (IAU_2015:50100)
  // Leaflet's geographic CRS has the tile grid of the Io TMS (zoom 0 = 2 x 1 tiles); Io's radius for distances.
  const IoCRS = L.extend({}, L.CRS.EPSG4326, {code: "IAU_2015:50100", R: IO_RADIUS_M});
  const INFERNO = [[87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];  // inferno at 0.25, 0.5, 0.75, 1

  const map = L.map("map", {crs: IoCRS, minZoom: 0, maxZoom: 12, worldCopyJump: false, zoomSnap: 1,
                            fadeAnimation: false});
  map.createPane("maps").style.zIndex = 250;
  map.createPane("timeline").style.zIndex = 270;
  map.createPane("swipe").style.zIndex = 290;
  map.createPane("vectors").style.zIndex = 420;
  map.fitBounds([[-90, -180], [90, 180]]);
  L.control.scale({imperial: false, maxWidth: 160}).addTo(map);

  const state = {catalog: null, info: null, volcanoes: [], mapLayers: {}, vectorLayers: {}, basemap: null,
                 swipe: {on: false, left: null, right: null, pos: 0.5}, time: {on: false, layer: null}};

  // ---------------------------------------------------------------- helpers
  function esc(value) {
    return String(value).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  }
  function num(value, digits) {
    if (value === null || value === undefined || value === "" || Number.isNaN(Number(value))) return "—";
    const v = Number(value);
    if (digits === undefined) return Math.abs(v) >= 100 ? v.toLocaleString("en", {maximumFractionDigits: 0}) : v.toPrecision(3);
    return v.toFixed(digits);
  }
  function lonEast(lon) { return ((lon % 360) + 360) % 360; }
  function lonWest(lon) { return ((-lon % 360) + 360) % 360; }
  function latText(lat) { return `${Math.abs(lat).toFixed(2)}° ${lat >= 0 ? "N" : "S"}`; }
  function lonText(lon) { return `${lonEast(lon).toFixed(2)}° E = ${lonWest(lon).toFixed(2)}° W`; }
  function fileUrl(path) { return "/files/" + path.split("/").map(encodeURIComponent).join("/"); }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }
  async function getJSON(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }
  function powerStyle(power) {
    if (power === null || power === undefined || !(power > 0)) return {radius: 3, color: "#a0a0a0"};
    const level = Math.min(Math.max(Math.log10(power), 0), 4);
    const t = level / 4 * (INFERNO.length - 1), i = Math.min(Math.floor(t), INFERNO.length - 2), f = t - i;
    const rgb = INFERNO[i].map((c, k) => Math.round(c + f * (INFERNO[i + 1][k] - c)));
    return {radius: 3 + 2.5 * level, color: `rgb(${rgb.join(",")})`};
  }
  function popupHtml(title, rows) {
    const items = rows.filter(r => r[1] !== undefined).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
    return `<div class="popup"><b>${esc(title)}</b><dl>${items}</dl></div>`;
  }

  // ---------------------------------------------------------------- readout and graticule
  const Readout = L.Control.extend({
    options: {position: "bottomleft"},
    onAdd() { this._div = L.DomUtil.create("div", "readout"); this._div.id = "readout"; return this._div; },
    show(latlng, what) { this._div.textContent = `${what} ${latText(latlng.lat)}, ${lonText(latlng.lng)}`; },
  });
  const readout = new Readout().addTo(map);
  map.on("mousemove", e => readout.show(e.latlng, "cursor"));
  map.on("moveend", () => readout.show(map.getCenter(), "centre"));
  map.on("mouseout", () => readout.show(map.getCenter(), "centre"));

  const graticule = L.layerGroup();
  function graticuleStep() {
    const z = map.getZoom();
    return z <= 1 ? 30 : z <= 2 ? 15 : z <= 4 ? 10 : z <= 5 ? 5 : z <= 7 ? 1 : 0.5;
  }
  function drawGraticule() {
    graticule.clearLayers();
    const step = graticuleStep(), style = {color: "#ffd27f", weight: 0.7, opacity: 0.6, interactive: false, pane: "vectors"};
    const view = map.getBounds();
    for (let lon = -180; lon <= 180; lon += step) {
      graticule.addLayer(L.polyline([[-90, lon], [90, lon]], style));
      const lat = Math.min(Math.max(view.getSouth() + 0.02 * (view.getNorth() - view.getSouth()), -89), 89);
      if (lon > -180) graticule.addLayer(L.marker([lat, lon], {interactive: false, pane: "vectors", icon: L.divIcon(
        {className: "graticule-label", html: `${+lonEast(lon).toFixed(1)}°E`, iconSize: null, iconAnchor: [-2, 12]})}));
    }
    for (let lat = -90 + step; lat < 90; lat += step) {
      graticule.addLayer(L.polyline([[lat, -180], [lat, 180]], style));
      const lon = Math.max(view.getWest(), -180) + 0.01 * (view.getEast() - view.getWest());
      graticule.addLayer(L.marker([lat, lon], {interactive: false, pane: "vectors", icon: L.divIcon(
        {className: "graticule-label", html: `${Math.abs(+lat.toFixed(1))}°${lat >= 0 ? "N" : "S"}`, iconSize: null,
         iconAnchor: [-2, 12]})}));
    }
  }
  map.on("zoomend moveend", () => { if (map.hasLayer(graticule)) drawGraticule(); });
  graticule.on("add", drawGraticule);

  // ---------------------------------------------------------------- raster layers
  function nativeZoom(item) {  // the zoom whose pixel is not larger than the map's cell
    if (!item.cell_km) return 6;
    const cellDeg = item.cell_km / (IO_RADIUS_M / 1000 * Math.PI / 180);
    return Math.max(0, Math.min(12, Math.ceil(Math.log2(0.703125 / cellDeg))));
  }
  function mapTileLayer(id, pane) {
    if (id === "basemap") return L.tileLayer("/tiles/basemap/{z}/{x}/{y}.png",
      {pane: pane || "tilePane", maxNativeZoom: 5, maxZoom: 12, attribution: state.info && state.info.basemap ?
        `basemap: ${esc(state.info.basemap)}` : ""});
    const item = state.catalog.maps.find(m => m.id === id);
    return L.tileLayer(`/tiles/${id}/{z}/{x}/{y}.png`, {pane: pane || "maps", maxNativeZoom: nativeZoom(item), maxZoom: 12});
  }
  function layerRow(name, title, layer, on, withOpacity) {
    const box = el("input", {type: "checkbox", "data-layer": name});
    box.checked = on;
    box.addEventListener("change", () => box.checked ? layer.addTo(map) : map.removeLayer(layer));
    if (on) layer.addTo(map);
    const row = el("div", {class: "layer"}, el("label", {title}, box, " " + title));
    if (withOpacity) {
      const slider = el("input", {type: "range", min: "0", max: "100", value: "100", "data-opacity": name,
                                  title: "opacity"});
      slider.addEventListener("input", () => layer.setOpacity(slider.value / 100));
      row.append(slider);
    } else row.append(el("span"));
    return row;
  }

  // ---------------------------------------------------------------- vector layers
  function volcanoLayer(features, source) {
    const group = L.layerGroup();
    for (const f of features.filter(f => f.source === source)) {
      const style = source === "gazetteer" ? {radius: 2.5, color: "#8fd3ff"} : powerStyle(f.power_gw);
      const marker = L.circleMarker([f.lat_deg, f.lon_east_deg], {radius: style.radius, color: "#000", weight: 1,
        fillColor: style.color, fillOpacity: 0.9, pane: "vectors", className: `volcano ${source}`});
      marker.feature = f;
      marker.bindPopup(() => popupHtml(f.name, [
        ["type", f.feature_type], ["IAU feature", f.iau_name || "—"], ["lat", latText(f.lat_deg)],
        ["lon", `${num(f.lon_east_deg, 2)}° E = ${num(f.lon_west_deg, 2)}° W`],
        ["T (K)", num(f.temperature_k, 0)], ["area (km²)", num(f.area_km2)], ["power (GW)", num(f.power_gw)],
        ["source", {davies: "Davies et al. 2024", mura: "Mura et al. 2024 (JIRAM)", gazetteer: "IAU gazetteer"}[source]],
        ["status", f.status || "—"]]));
      group.addLayer(marker);
    }
    return group;
  }
  function detectionPopup(p) {
    const match = p.catalogue_match && typeof p.catalogue_match === "object" ? p.catalogue_match.name : p.catalogue_name;
    const pm = (v, s, d) => v === null || v === undefined ? "—" : `${num(v, d)} ± ${num(s, d)}`;
    return popupHtml(match ? `hot spot near ${match}` : "hot spot (detection)", [
      ["time (UTC)", p.time_utc || "—"], ["lat", p.lat_deg !== undefined ? latText(p.lat_deg) : "—"],
      ["lon", p.lon_east_deg !== undefined ? lonText(p.lon_east_deg) : "—"],
      ["T colour (K)", pm(p.color_temperature_k, p.temperature_sigma_k, 0)],
      ["area (km²)", pm(p.area_km2, p.area_sigma_km2, 4)], ["power (GW)", pm(p.power_gw, p.power_sigma_gw, 3)],
      ["source", `ioflyby hotspots: ${p.product_id || "?"}`]]);
  }
  function genericPopup(name, p) {
    const rows = Object.entries(p || {}).filter(([, v]) => v === null || typeof v !== "object").slice(0, 30)
      .map(([k, v]) => [k, v === null ? "—" : typeof v === "number" ? num(v, Math.abs(v) < 1000 ? 3 : 0) : v]);
    return popupHtml(name, rows);
  }
  async function geojsonLayer(item) {
    const data = await getJSON(`/api/layers/${item.id}.geojson`);
    const kind = item.kind;
    return L.geoJSON(data, {
      pane: "vectors",
      pointToLayer: (feature, latlng) => {
        const p = feature.properties || {};
        const style = powerStyle(p.power_gw);
        return L.circleMarker(latlng, kind === "hotspots" ?
          {radius: style.radius + 2, color: "#00e5ff", weight: 2, fillColor: style.color, fillOpacity: 0.9,
           pane: "vectors", className: "detection"} :
          {radius: 4, color: "#fff", weight: 1, fillColor: "#e05", fillOpacity: 0.8, pane: "vectors"});
      },
      style: () => kind === "changes" ? {color: "#ff3b30", weight: 2, fillOpacity: 0.25} : {color: "#ffeb3b", weight: 1},
      onEachFeature: (feature, layer) => layer.bindPopup(() => kind === "hotspots" ?
        detectionPopup(feature.properties || {}) : genericPopup(`${item.name}`, feature.properties)),
    });
  }

  // ---------------------------------------------------------------- search
  async function search(query) {
    const list = document.getElementById("search-results");
    list.replaceChildren();
    const found = await getJSON(`/api/search?q=${encodeURIComponent(query)}`);
    for (const hit of found.results) {
      const text = `${hit.name} · ${hit.kind} · ${latText(hit.lat_deg)} ${num(hit.lon_west_deg, 1)}° W`;
      list.append(el("li", {text, onclick: () => goTo(hit)}));
    }
    if (found.results.length) goTo(found.results[0]);
    return found.results;
  }
  function goTo(hit) {
    if (hit.map_id) {
      const box = document.querySelector(`input[data-layer="${hit.map_id}"]`);
      if (box && !box.checked) box.click();
    }
    const zoom = hit.kind === "map" ? 3 : Math.max(map.getZoom(), 5);
    const lon = hit.lon_east_deg > 180 ? hit.lon_east_deg - 360 : hit.lon_east_deg;
    map.flyTo([hit.lat_deg, lon], zoom, {duration: 0.6});
  }
  document.getElementById("search").addEventListener("submit", e => {
    e.preventDefault();
    const q = document.getElementById("search-input").value.trim();
    if (q) search(q);
  });

  // ---------------------------------------------------------------- epochs: swipe and time slider
  const divider = document.getElementById("swipe-divider");
  function clipSwipe() {
    const {left, right, pos, on} = state.swipe;
    if (!on || !left || !right) { divider.hidden = true; return; }
    const nw = map.containerPointToLayerPoint([0, 0]), se = map.containerPointToLayerPoint(map.getSize());
    const x = nw.x + map.getSize().x * pos;
    left.getContainer().style.clip = `rect(${nw.y}px, ${x}px, ${se.y}px, ${nw.x}px)`;
    right.getContainer().style.clip = `rect(${nw.y}px, ${se.x}px, ${se.y}px, ${x}px)`;
    divider.hidden = false;
    divider.style.left = `${100 * pos}%`;
  }
  function setSwipe(on, leftId, rightId, pos) {
    for (const layer of [state.swipe.left, state.swipe.right]) if (layer) map.removeLayer(layer);
    state.swipe = {on, pos: pos === undefined ? state.swipe.pos : pos, left: null, right: null};
    if (on && leftId && rightId) {
      state.swipe.left = mapTileLayer(leftId, "swipe").addTo(map);
      state.swipe.right = mapTileLayer(rightId, "swipe").addTo(map);
      state.swipe.left.on("load", clipSwipe);
      state.swipe.right.on("load", clipSwipe);
    }
    clipSwipe();
  }
  function readSwipe() {
    setSwipe(document.getElementById("swipe-on").checked, document.getElementById("swipe-left").value,
             document.getElementById("swipe-right").value, document.getElementById("swipe-pos").value / 100);
  }
  for (const id of ["swipe-on", "swipe-left", "swipe-right"]) document.getElementById(id).addEventListener("change", readSwipe);
  document.getElementById("swipe-pos").addEventListener("input", e => { state.swipe.pos = e.target.value / 100; clipSwipe(); });
  map.on("move zoom viewreset zoomend moveend", clipSwipe);
  divider.addEventListener("pointerdown", e => {
    divider.setPointerCapture(e.pointerId);
    map.dragging.disable();
    const move = ev => {
      const box = map.getContainer().getBoundingClientRect();
      state.swipe.pos = Math.min(Math.max((ev.clientX - box.left) / box.width, 0), 1);
      document.getElementById("swipe-pos").value = Math.round(100 * state.swipe.pos);
      clipSwipe();
    };
    divider.addEventListener("pointermove", move);
    divider.addEventListener("pointerup", () => { divider.removeEventListener("pointermove", move); map.dragging.enable(); },
                             {once: true});
  });

  function timeline() { return state.catalog.maps.filter(m => m.time_utc); }
  function showTime() {
    if (state.time.layer) { map.removeLayer(state.time.layer); state.time.layer = null; }
    const maps = timeline(), index = Number(document.getElementById("time-slider").value);
    const label = document.getElementById("time-label");
    if (!state.time.on || !maps.length) { label.textContent = maps.length ? "" : "no dated maps"; return; }
    const item = maps[Math.min(index, maps.length - 1)];
    state.time.layer = mapTileLayer(item.id, "timeline").addTo(map);
    label.textContent = `${item.time_utc} UTC · ${item.name}`;
  }
  document.getElementById("time-on").addEventListener("change", e => { state.time.on = e.target.checked; showTime(); });
  document.getElementById("time-slider").addEventListener("input", showTime);

  // ---------------------------------------------------------------- products, catalogues, flybys
  function gallery(catalog) {
    const box = document.getElementById("gallery");
    box.replaceChildren();
    for (const m of catalog.maps) {
      const links = el("div", {class: "links"});
      for (const [label, path] of Object.entries(m.files)) links.append(el("a", {href: fileUrl(path), target: "_blank", text: label}));
      links.append(el("a", {href: "#", text: "show on map", onclick: e => {
        e.preventDefault(); selectTab("map");
        goTo({map_id: m.id, kind: "map", lat_deg: m.center ? m.center[0] : 0, lon_east_deg: m.center ? m.center[1] : 0});
      }}));
      const quality = m.pointing_quality || "—";
      box.append(el("div", {class: "card", "data-map": m.id},
        m.preview ? el("img", {src: fileUrl(m.preview), alt: m.name, loading: "lazy"}) : null,
        el("h3", {text: m.name}),
        el("dl", {}, el("dt", {text: "time (UTC)"}), el("dd", {text: m.time_utc || "—"}),
          el("dt", {text: "target"}), el("dd", {text: m.target || "—"}),
          el("dt", {text: "perijove"}), el("dd", {text: m.perijoves.length ? m.perijoves.map(p => `PJ${p}`).join(", ") : "—"}),
          el("dt", {text: "pointing"}), el("dd", {}, el("span", {class: `badge ${quality}`, text: quality}),
            m.limb_rms_px.length ? ` limb RMS ${m.limb_rms_px.map(v => num(v, 2)).join(", ")} px` : ""),
          el("dt", {text: "projection"}), el("dd", {text: `${m.projection || "—"}${m.cell_km ? `, ${num(m.cell_km, 2)} km cells` : ""}`}),
          el("dt", {text: "products"}), el("dd", {text: m.products.join(", ") || "—"})),
        links));
    }
    if (!catalog.maps.length) box.append(el("p", {class: "muted", text: "no map GeoTIFFs in this folder"}));
    const reports = document.getElementById("reports");
    reports.replaceChildren(...catalog.reports.map(r => el("li", {}, el("a", {href: fileUrl(r.path), target: "_blank", text: r.name}))));
    const databases = document.getElementById("databases");
    databases.replaceChildren();
    for (const db of catalog.databases) {
      const holder = el("div", {class: "card"}, el("h3", {text: db.name}));
      databases.append(holder);
      getJSON(`/api/databases/${db.id}`).then(data => {
        for (const [name, table] of Object.entries(data.tables)) {
          holder.append(el("p", {class: "muted", text: `${name}: ${table.total} rows${table.total > table.rows.length ? ` (first ${table.rows.length})` : ""}`}),
                        dataTable(table.columns, table.rows));
        }
      }).catch(err => holder.append(el("p", {class: "muted", text: String(err)})));
    }
    if (!catalog.databases.length) databases.append(el("p", {class: "muted", text: "no SQLite catalogue (ioflyby batch) in this folder"}));
  }
  function dataTable(columns, rows) {
    const table = el("table", {class: "data"});
    table.append(el("tr", {}, ...columns.map(c => el("th", {text: c}))));
    for (const row of rows) table.append(el("tr", {}, ...row.map(v => el("td", {text: typeof v === "number" ? num(v, Number.isInteger(v) ? 0 : 3) : v ?? "—"}))));
    return table;
  }
  function flybys(catalog) {
    const box = document.getElementById("flybys");
    box.replaceChildren();
    for (const f of catalog.flybys) {
      const columns = ["flyby", "C/A (UTC)", "altitude km", "speed km/s", "sub-lat °", "sub-lon °E", "sub-lon °W", "phase °", "LST", "JunoCam km/px"];
      const rows = f.encounters.map(e => [e.label, e.time_utc, e.altitude_km, e.speed_km_s, e.sub_lat_deg, e.sub_lon_east_deg,
                                          e.sub_lon_west_deg, e.phase_deg, e.local_solar_time, e.junocam_km_per_px]);
      box.append(el("h2", {text: `Flyby comparison: ${f.name}`}), dataTable(columns, rows),
                 ...f.plots.map(p => el("img", {class: "plot", src: fileUrl(p), alt: p, loading: "lazy"})),
                 f.html ? el("p", {}, el("a", {href: fileUrl(f.html), target: "_blank", text: "comparison page"})) : null);
    }
    if (!catalog.flybys.length) box.append(el("p", {class: "muted", text: "no flyby comparison (comparison.json) in this folder"}));
  }
  function selectTab(name) {
    for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
    for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== `tab-${name}`;
    if (name === "map") map.invalidateSize();
  }
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => selectTab(b.dataset.tab));

  // ---------------------------------------------------------------- start
  async function start() {
    const [info, catalog, volcanoes] = await Promise.all([getJSON("/api/info"), getJSON("/api/catalog"), getJSON("/api/volcanoes")]);
    state.info = info; state.catalog = catalog; state.volcanoes = volcanoes.features;
    document.getElementById("folder").textContent = `${catalog.root}: ${catalog.maps.length} maps, ${catalog.layers.length} vector layers`;
    document.getElementById("citations").textContent = "Volcanoes: " + volcanoes.citations.join("; ") +
      `. Tiles: planetcantile ${info.tile_matrix_set} on Io's IAU 2015 sphere.`;
    const layers = document.getElementById("layers");
    if (info.basemap) {
      state.basemap = mapTileLayer("basemap");
      layers.append(layerRow("basemap", `Basemap (${info.basemap})`, state.basemap, true, true));
    }
    catalog.maps.forEach((m, i) => {
      state.mapLayers[m.id] = mapTileLayer(m.id);
      layers.append(layerRow(m.id, `${m.name}${m.time_utc ? " · " + m.time_utc.slice(0, 16) : ""}`, state.mapLayers[m.id], i === 0, true));
    });
    state.vectorLayers.davies = volcanoLayer(state.volcanoes, "davies");
    layers.append(layerRow("davies", "Hot spots: Davies et al. 2024 (by power)", state.vectorLayers.davies, true, false));
    state.vectorLayers.gazetteer = volcanoLayer(state.volcanoes, "gazetteer");
    layers.append(layerRow("gazetteer", "IAU named features", state.vectorLayers.gazetteer, false, false));
    for (const item of catalog.layers) {
      try {
        state.vectorLayers[item.id] = await geojsonLayer(item);
        const on = item.kind === "hotspots" || item.kind === "changes";
        layers.append(layerRow(item.id, `${item.kind}: ${item.name}`, state.vectorLayers[item.id], on, false));
      } catch (err) {
        layers.append(el("p", {class: "muted", text: `${item.path}: ${err}`}));
      }
    }
    layers.append(layerRow("graticule", "Graticule", graticule, true, false));
    const options = [["basemap", "basemap"], ...catalog.maps.map(m => [m.id, m.name])];
    for (const id of ["swipe-left", "swipe-right"]) {
      const select = document.getElementById(id);
      select.replaceChildren(...options.map(([value, text]) => el("option", {value, text})));
    }
    if (options.length > 1) document.getElementById("swipe-right").value = options[1][0];
    const slider = document.getElementById("time-slider");
    slider.max = String(Math.max(timeline().length - 1, 0));
    gallery(catalog);
    flybys(catalog);
    readout.show(map.getCenter(), "centre");
    const hash = new URLSearchParams(location.hash.slice(1));
    if (hash.get("q")) { document.getElementById("search-input").value = hash.get("q"); await search(hash.get("q")); }
    if (hash.get("map")) { const m = catalog.maps.find(x => x.id === hash.get("map")); if (m) goTo({map_id: m.id, kind: "map", lat_deg: m.center[0], lon_east_deg: m.center[1]}); }
    if (hash.get("tab")) selectTab(hash.get("tab"));
  }
  const ready = start().then(() => true, err => { console.error(err); window.ioflyby.error = String(err); return false; });
  function idle() {  // every tile layer on the map has loaded its visible tiles
    let busy = false;
    map.eachLayer(layer => { if (layer instanceof L.GridLayer && layer.isLoading()) busy = true; });
    return !busy;
  }
  window.ioflyby = {map, state, ready, search, setSwipe, selectTab, graticule, idle};
})();
