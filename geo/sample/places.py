"""Hand-made tables of the sample world: anchor places, event profiles and route waypoints.

Coordinates are (longitude, latitude) in EPSG:4326 degrees, taken from gazetteers for towns and
ports and chosen by hand for offshore points. Weights are relative shares of events; spreads are
the standard deviation of the scatter around the anchor, in kilometres.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anchor:
    """A place around which sample events cluster.

    ``near`` is the place phrase used in descriptions, in the local language (Portuguese in
    Brazil, Spanish elsewhere); ``trend`` is the relative change in event rate from the first to
    the last day of the period (0.8: 80 % more events at the end).
    """

    name: str
    near: str
    lon: float
    lat: float
    country: str
    weight: float
    spread_km: float
    profile: str
    trend: float = 0.2


A = Anchor
ANCHORS: tuple[Anchor, ...] = (
    # Andean producers: coca, base and labs
    A("VRAEM", "cerca de Pichari (VRAEM)", -73.83, -12.52, "PE", 6.0, 35, "producer", 0.3),
    A("Alto Huallaga", "cerca de Tocache", -76.51, -8.19, "PE", 3.5, 30, "producer", -0.2),
    A("Ucayali", "cerca de Puerto Inca", -74.96, -9.38, "PE", 2.5, 45, "airstrip", 0.6),
    A("Puno", "cerca de Juliaca", -70.13, -15.50, "PE", 1.5, 40, "transit"),
    A("Callao", "en el puerto del Callao", -77.15, -12.05, "PE", 2.5, 8, "port", 0.3),
    A("Paita", "en el puerto de Paita", -81.11, -5.08, "PE", 1.2, 10, "port"),
    A("Chapare", "cerca de Villa Tunari (Chapare)", -65.42, -16.97, "BO", 5.0, 30, "producer"),
    A("Yungas", "cerca de Caranavi (Yungas)", -67.57, -15.83, "BO", 1.8, 25, "producer"),
    A("Beni", "cerca de Trinidad (Beni)", -64.90, -14.83, "BO", 3.0, 80, "airstrip", 0.4),
    A("Santa Cruz", "cerca de Santa Cruz de la Sierra", -63.18, -17.78, "BO", 3.0, 45,
      "transit", 0.3),
    A("Catatumbo", "cerca de Tibú (Catatumbo)", -72.73, 8.64, "CO", 5.0, 30, "producer", 0.4),
    A("Nariño", "cerca de Tumaco", -78.76, 1.80, "CO", 7.0, 25, "coast", 0.2),
    A("Cauca", "cerca de Argelia (Cauca)", -77.25, 2.26, "CO", 4.0, 30, "producer", 0.3),
    A("Putumayo", "cerca de Puerto Asís", -76.50, 0.50, "CO", 4.0, 30, "producer"),
    A("Bajo Cauca", "cerca de Caucasia", -75.20, 7.98, "CO", 2.0, 30, "producer"),
    A("Buenaventura", "en el puerto de Buenaventura", -77.03, 3.88, "CO", 3.5, 12, "port"),
    A("Urabá", "cerca de Turbo (Urabá)", -76.73, 8.09, "CO", 4.0, 25, "coast", 0.3),
    A("Cartagena", "en el puerto de Cartagena", -75.51, 10.39, "CO", 3.0, 10, "port"),
    A("Santa Marta", "en el puerto de Santa Marta", -74.21, 11.24, "CO", 1.8, 10, "port"),
    A("La Guajira", "cerca de Riohacha (La Guajira)", -72.91, 11.54, "CO", 2.0, 30, "coast"),
    A("Zulia", "cerca de Machiques (Zulia)", -72.55, 10.06, "VE", 3.0, 40, "airstrip", 0.5),
    A("Apure", "cerca de Guasdualito (Apure)", -70.73, 7.24, "VE", 3.0, 55, "airstrip", 0.5),
    A("Falcón", "cerca de Coro (Falcón)", -69.68, 11.40, "VE", 2.0, 35, "coast"),
    A("Guayaquil", "en el puerto de Guayaquil", -79.90, -2.20, "EC", 6.0, 15, "port", 1.2),
    A("Esmeraldas", "cerca de Esmeraldas", -79.65, 0.96, "EC", 3.0, 25, "coast", 1.0),
    A("Manabí", "cerca de Manta", -80.73, -0.95, "EC", 2.0, 25, "coast", 1.0),
    A("Sucumbíos", "cerca de Lago Agrio", -76.89, 0.09, "EC", 1.5, 30, "transit", 0.6),
    A("Pacífico Nariño", "en aguas del Pacífico frente a Tumaco", -79.90, 2.40, "CO", 4.0, 60,
      "maritime", 0.3),
    A("Galápagos", "en aguas cercanas a Galápagos", -87.50, 0.80, "EC", 2.5, 150, "maritime",
      0.8),
    A("Pacífico Centroamérica", "en aguas del Pacífico frente a Guatemala", -92.00, 12.80, "GT",
      2.0, 120, "maritime"),
    A("Pacífico Costa Rica", "en aguas del Pacífico frente a Costa Rica", -86.50, 8.20, "CR",
      2.0, 90, "maritime", 0.4),
    A("Pacífico México", "en aguas del Pacífico frente a Oaxaca", -97.50, 14.50, "MX", 1.5, 110,
      "maritime"),
    A("Caribe Guajira", "en aguas del Caribe al norte de La Guajira", -73.30, 13.40, "CO", 2.5,
      90, "maritime"),
    A("Caribe Mosquitia", "en aguas del Caribe frente a La Mosquitia", -82.30, 15.60, "HN", 2.5,
      80, "maritime"),
    A("Caribe oriental", "en aguas del Caribe al sur de La Española", -69.50, 16.50, "DO", 2.0,
      90, "maritime"),
    A("Petén", "cerca de Sayaxché (Petén)", -90.18, 16.70, "GT", 4.0, 50, "airstrip"),
    A("Izabal", "cerca de Puerto Barrios", -88.60, 15.72, "GT", 1.5, 20, "coast"),
    A("Gracias a Dios", "cerca de Puerto Lempira (La Mosquitia)", -83.78, 15.20, "HN", 4.0, 50,
      "airstrip", -0.1),
    A("Colón Honduras", "cerca de Trujillo", -85.96, 15.90, "HN", 1.5, 25, "coast"),
    A("Bilwi", "cerca de Bilwi (Caribe Norte)", -83.38, 14.03, "NI", 2.0, 35, "coast"),
    A("Bluefields", "cerca de Bluefields (Caribe Sur)", -83.77, 12.01, "NI", 2.0, 35, "coast"),
    A("Limón", "en el puerto de Limón", -83.03, 9.99, "CR", 3.0, 15, "port", 0.5),
    A("Darién", "cerca de Yaviza (Darién)", -77.69, 8.16, "PA", 2.0, 35, "transit"),
    A("Colón Panamá", "en el puerto de Colón", -79.90, 9.35, "PA", 4.0, 10, "port", 0.3),
    A("Santo Domingo", "en el puerto de Caucedo", -69.63, 18.43, "DO", 2.0, 12, "port"),
    A("Chiapas", "cerca de Tapachula (Chiapas)", -92.27, 14.90, "MX", 3.0, 40, "transit"),
    A("Quintana Roo", "cerca de Chetumal (Quintana Roo)", -88.30, 18.50, "MX", 2.0, 40,
      "airstrip"),
    A("Sinaloa", "cerca de Culiacán (Sinaloa)", -107.39, 24.80, "MX", 5.0, 55, "synthetic",
      0.6),
    A("Michoacán", "cerca de Apatzingán (Michoacán)", -102.35, 19.08, "MX", 3.0, 45,
      "synthetic", 0.4),
    A("Lázaro Cárdenas", "en el puerto de Lázaro Cárdenas", -102.20, 17.95, "MX", 2.0, 10,
      "port"),
    A("Manzanillo", "en el puerto de Manzanillo", -104.30, 19.05, "MX", 2.0, 10, "port"),
    A("Sonora", "cerca de Nogales (Sonora)", -110.94, 31.30, "MX", 2.5, 30, "border_mx", 0.8),
    A("Pedro Juan Caballero", "cerca de Pedro Juan Caballero", -55.73, -22.55, "PY", 5.0, 25,
      "transit", 0.3),
    A("Chaco", "cerca de Mariscal Estigarribia (Chaco)", -60.62, -22.03, "PY", 3.0, 100,
      "airstrip", 0.4),
    A("Canindeyú", "cerca de Salto del Guairá", -54.30, -24.06, "PY", 2.0, 30, "transit"),
    A("Villeta", "en el puerto de Villeta", -57.56, -25.50, "PY", 2.0, 15, "port", 0.6),
    A("Santos", "no porto de Santos", -46.30, -23.97, "BR", 5.0, 10, "port", 0.4),
    A("Paranaguá", "no porto de Paranaguá", -48.51, -25.52, "BR", 3.0, 10, "port", 0.4),
    A("Ponta Porã", "perto de Ponta Porã (MS)", -55.72, -22.54, "BR", 2.0, 25, "transit"),
    A("Corumbá", "perto de Corumbá (MS)", -57.65, -19.00, "BR", 3.0, 40, "transit"),
    A("Cáceres", "perto de Cáceres (MT)", -57.68, -16.07, "BR", 2.0, 50, "airstrip"),
    A("Tabatinga", "perto de Tabatinga (AM)", -69.94, -4.25, "BR", 3.0, 40, "river", 0.4),
    A("Manaus", "perto de Manaus (AM)", -60.02, -3.10, "BR", 2.0, 30, "river", 0.4),
    A("Roraima", "perto de Boa Vista (RR)", -61.50, 2.80, "BR", 1.5, 90, "mining", 0.5),
    A("Belém", "no porto de Vila do Conde (PA)", -48.75, -1.55, "BR", 1.5, 20, "port"),
    A("Pecém", "no porto do Pecém (CE)", -38.80, -3.54, "BR", 1.0, 10, "port"),
    A("Rosario", "en el puerto de Rosario", -60.64, -32.95, "AR", 4.0, 20, "port", 0.5),
    A("Salta", "cerca de Orán (Salta)", -64.33, -23.13, "AR", 3.0, 40, "transit"),
    A("Buenos Aires", "en el puerto de Buenos Aires", -58.37, -34.60, "AR", 2.0, 10, "port"),
    A("Arica", "cerca de Arica", -70.30, -18.48, "CL", 1.5, 30, "transit"),
    A("Montevideo", "en el puerto de Montevideo", -56.21, -34.90, "UY", 1.5, 8, "port", 0.5),
)


@dataclass(frozen=True)
class Profile:
    """What happens around one kind of anchor: shares of event types, commodities, contexts.

    Each mapping gives relative weights (normalised when used). ``quantity_scale`` multiplies
    the commodity's typical seizure size (a port seizure is larger than a road check).
    """

    event_types: dict[str, float]
    commodities: dict[str, float]
    contexts: dict[str, float]
    quantity_scale: float = 1.0


PROFILES: dict[str, Profile] = {
    "producer": Profile(
        {"lab_dismantled": 35, "seizure": 45, "incident": 15, "interdiction": 5},
        {"cocaine_base": 35, "cocaine": 30, "precursors": 20, "cannabis": 5, "fuel": 5,
         "cash": 3, "weapons": 2},
        {"house": 25, "jungle": 30, "truck": 20, "riverboat": 15, "checkpoint": 10}),
    "airstrip": Profile(
        {"suspicious_flight": 45, "seizure": 30, "incident": 15, "interdiction": 10},
        {"cocaine": 60, "cocaine_base": 20, "fuel": 10, "cash": 5, "weapons": 5},
        {"aircraft": 55, "airstrip": 35, "truck": 10}, 3.0),
    "transit": Profile(
        {"seizure": 70, "interdiction": 15, "incident": 10, "lab_dismantled": 5},
        {"cocaine": 45, "cannabis": 25, "cocaine_base": 10, "cash": 8, "weapons": 7,
         "precursors": 5},
        {"truck": 40, "car": 35, "checkpoint": 20, "house": 5}),
    "port": Profile(
        {"seizure": 85, "interdiction": 10, "incident": 5},
        {"cocaine": 85, "cannabis": 3, "cash": 5, "precursors": 4, "weapons": 3},
        {"container": 85, "truck": 10, "fishing": 5}, 8.0),
    "coast": Profile(
        {"seizure": 60, "interdiction": 30, "incident": 10},
        {"cocaine": 75, "cannabis": 10, "fuel": 5, "cash": 5, "weapons": 5},
        {"gofast": 50, "fishing": 15, "semisub": 5, "jungle": 15, "house": 15}, 3.0),
    "maritime": Profile(
        {"interdiction": 55, "seizure": 40, "incident": 5},
        {"cocaine": 90, "fuel": 5, "cannabis": 5},
        {"gofast": 60, "semisub": 15, "fishing": 25}, 6.0),
    "synthetic": Profile(
        {"lab_dismantled": 30, "seizure": 60, "incident": 10},
        {"methamphetamine": 40, "fentanyl": 20, "precursors": 20, "cocaine": 10, "heroin": 5,
         "cannabis": 5},
        {"house": 40, "truck": 30, "car": 20, "jungle": 10}),
    "border_mx": Profile(
        {"seizure": 90, "incident": 10},
        {"fentanyl": 40, "methamphetamine": 35, "cocaine": 15, "heroin": 5, "cash": 5},
        {"checkpoint": 50, "car": 30, "truck": 20}),
    "river": Profile(
        {"seizure": 65, "interdiction": 20, "incident": 10, "lab_dismantled": 5},
        {"cocaine": 50, "cocaine_base": 25, "cannabis": 10, "gold": 5, "fuel": 5, "weapons": 5},
        {"riverboat": 70, "house": 15, "checkpoint": 15}),
    "mining": Profile(
        {"seizure": 50, "incident": 30, "suspicious_flight": 20},
        {"gold": 45, "fuel": 20, "cocaine": 20, "weapons": 15},
        {"airstrip": 35, "aircraft": 25, "riverboat": 25, "jungle": 15}),
}

#: Typical seizure size per commodity: (median kg, sigma of the natural log). None: no mass
#: is reported (cash is counted in money, weapons in units, unknown cargo is not weighed).
QUANTITY_LOGNORMAL: dict[str, tuple[float, float] | None] = {
    "cocaine": (40.0, 1.5), "cocaine_base": (30.0, 1.3), "cannabis": (180.0, 1.6),
    "heroin": (4.0, 1.2), "methamphetamine": (35.0, 1.6), "fentanyl": (2.5, 1.4),
    "precursors": (700.0, 1.3), "gold": (6.0, 1.0), "fuel": (1200.0, 1.0),
    "cash": None, "weapons": None, "unknown": None,
}
MAX_QUANTITY_KG = 20_000.0  # the largest single seizures on record are of this order

#: Reporting agencies per country (national first); regional feeds are added by the generator.
SOURCES: dict[str, tuple[str, ...]] = {
    "PE": ("DEVIDA", "Policía Nacional del Perú (DIRANDRO)"),
    "BO": ("FELCN",),
    "CO": ("Policía Nacional de Colombia", "Armada de Colombia"),
    "VE": ("FANB",),
    "EC": ("Policía Nacional del Ecuador", "Armada del Ecuador"),
    "GT": ("PNC Guatemala",),
    "HN": ("FUSINA",),
    "NI": ("Ejército de Nicaragua",),
    "CR": ("PCD Costa Rica", "Servicio Nacional de Guardacostas"),
    "PA": ("SENAN", "SENAFRONT"),
    "DO": ("DNCD",),
    "MX": ("SEDENA", "SEMAR", "FGR"),
    "PY": ("SENAD",),
    "BR": ("Polícia Federal", "Receita Federal"),
    "AR": ("Gendarmería Nacional", "Prefectura Naval Argentina"),
    "CL": ("Carabineros de Chile", "PDI Chile"),
    "UY": ("Policía Nacional de Uruguay",),
}
REGIONAL_SOURCES: tuple[str, ...] = ("JIATF-South", "UNODC", "open source press")

#: Contexts of a seizure, as (Spanish, Portuguese) phrases.
CONTEXTS: dict[str, tuple[str, str]] = {
    "gofast": ("en una lancha rápida", "em uma lancha rápida"),
    "semisub": ("en un semisumergible", "em um semissubmersível"),
    "fishing": ("en un barco pesquero", "em um barco pesqueiro"),
    "container": ("en un contenedor", "em um contêiner"),
    "truck": ("en un camión", "em um caminhão"),
    "car": ("en un vehículo particular", "em um veículo particular"),
    "aircraft": ("en una avioneta", "em um avião de pequeno porte"),
    "airstrip": ("en una pista clandestina", "em uma pista clandestina"),
    "house": ("en una vivienda", "em uma residência"),
    "riverboat": ("en una embarcación fluvial", "em uma embarcação fluvial"),
    "jungle": ("en una caleta en la selva", "em um esconderijo na mata"),
    "checkpoint": ("en un puesto de control", "em uma barreira policial"),
}

#: Commodity names as (Spanish, Portuguese).
COMMODITY_NAMES: dict[str, tuple[str, str]] = {
    "cocaine": ("cocaína", "cocaína"), "cocaine_base": ("pasta base de cocaína", "pasta base"),
    "cannabis": ("marihuana", "maconha"), "heroin": ("heroína", "heroína"),
    "methamphetamine": ("metanfetamina", "metanfetamina"), "fentanyl": ("fentanilo", "fentanil"),
    "precursors": ("precursores químicos", "precursores químicos"),
    "cash": ("dinero en efectivo", "dinheiro em espécie"), "weapons": ("armas", "armas"),
    "gold": ("oro ilegal", "ouro ilegal"), "fuel": ("combustible", "combustível"),
    "unknown": ("carga no identificada", "carga não identificada"),
}

#: Corridors between anchors (by name): events are also scattered along these lines, on the
#: first 40 % from either end so that each keeps its anchor's country.
CORRIDORS: tuple[tuple[str, str], ...] = (
    ("VRAEM", "Puno"), ("Alto Huallaga", "Ucayali"), ("Puno", "Yungas"),
    ("Chapare", "Santa Cruz"), ("Santa Cruz", "Corumbá"), ("Santa Cruz", "Salta"),
    ("Beni", "Cáceres"), ("Pedro Juan Caballero", "Canindeyú"), ("Ponta Porã", "Santos"),
    ("Ponta Porã", "Paranaguá"), ("Chaco", "Villeta"), ("Villeta", "Rosario"),
    ("Salta", "Rosario"), ("Catatumbo", "Zulia"), ("Catatumbo", "La Guajira"),
    ("Putumayo", "Sucumbíos"), ("Nariño", "Esmeraldas"), ("Cauca", "Buenaventura"),
    ("Bajo Cauca", "Urabá"), ("Bajo Cauca", "Cartagena"), ("Apure", "Falcón"),
    ("Esmeraldas", "Guayaquil"), ("Manabí", "Guayaquil"), ("Tabatinga", "Manaus"),
    ("Chiapas", "Petén"), ("Petén", "Quintana Roo"), ("Sinaloa", "Sonora"),
    ("Michoacán", "Lázaro Cárdenas"), ("Michoacán", "Manzanillo"), ("Gracias a Dios", "Bilwi"),
    ("Darién", "Colón Panamá"), ("Arica", "Puno"),
)


@dataclass(frozen=True)
class RouteSpec:
    """A trafficking route drawn through hand-chosen waypoints (lon, lat degrees).

    The first and last waypoints are the origin and destination. Air routes are densified along
    the great circle; maritime waypoints are chosen at sea so the lane never crosses land.
    """

    route_id: str
    mode: str
    origin: str
    destination: str
    waypoints: tuple[tuple[float, float], ...]
    volume_t_year: float  # order of magnitude of the flow, tonnes per year
    source: str


R = RouteSpec
ROUTE_SPECS: tuple[RouteSpec, ...] = (
    # Pacific go-fast and semi-submersible lanes
    R("R01", "maritime", "Tumaco", "Puerto San José", (
        (-78.76, 1.82), (-79.3, 2.3), (-82.5, 3.5), (-87.0, 7.0), (-91.0, 12.5),
        (-90.82, 13.90)), 120, "JIATF-South"),
    R("R02", "maritime", "Buenaventura", "Salina Cruz", (
        (-77.10, 3.88), (-77.6, 3.85), (-80.5, 3.5), (-89.0, 1.8), (-95.0, 8.0), (-96.0, 14.5),
        (-95.20, 16.10)), 150, "JIATF-South"),
    R("R03", "maritime", "Esmeraldas", "Quepos", (
        (-79.65, 1.00), (-80.3, 1.5), (-83.0, 5.5), (-84.3, 9.0), (-84.17, 9.41)), 60,
      "Armada del Ecuador"),
    R("R04", "maritime", "Guayaquil (Posorja)", "Manzanillo", (
        (-80.25, -2.72), (-81.2, -2.9), (-86.0, -2.2), (-92.5, -2.0), (-100.0, 10.0),
        (-104.6, 18.6), (-104.32, 19.05)), 200, "UNODC"),
    R("R05", "maritime", "Tumaco", "Galápagos (relevo de combustible)", (
        (-78.76, 1.82), (-79.3, 2.3), (-84.0, 1.5), (-89.3, 0.9)), 40, "Armada de Colombia"),
    # Caribbean lanes
    R("R06", "maritime", "Turbo (Urabá)", "Costa de La Mosquitia", (
        (-76.73, 8.10), (-76.92, 8.25), (-77.05, 8.75), (-77.2, 9.5), (-80.0, 12.0), (-82.5, 14.8),
        (-83.25, 15.25)), 90, "JIATF-South"),
    R("R07", "maritime", "Riohacha", "Santo Domingo", (
        (-72.91, 11.56), (-72.9, 11.9), (-71.5, 15.0), (-70.0, 18.2), (-69.90, 18.46)), 50,
      "DNCD"),
    R("R08", "maritime", "La Vela de Coro", "Ponce", (
        (-69.57, 11.49), (-69.4, 12.0), (-68.5, 15.0), (-66.6, 17.6), (-66.61, 17.97)), 40,
      "JIATF-South"),
    R("R09", "maritime", "Colón", "Mahahual", (
        (-79.90, 9.37), (-80.5, 10.5), (-82.0, 13.0), (-82.3, 15.8), (-84.5, 17.3), (-87.3, 18.7),
        (-87.71, 18.71)), 70, "SENAN"),
    R("R10", "maritime", "Cartagena", "Puerto Barrios", (
        (-75.54, 10.40), (-75.9, 10.6), (-77.5, 12.0), (-83.0, 16.3), (-86.0, 16.75),
        (-88.0, 16.2), (-88.58, 15.75)), 80, "Armada de Colombia"),
    # Atlantic crossings
    R("R11", "maritime", "Santos", "Bissau", (
        (-46.30, -23.99), (-45.5, -24.6), (-40.0, -23.5), (-37.0, -21.0), (-34.0, -14.0),
        (-33.0, -5.0), (-25.0, 5.0), (-17.3, 11.0), (-15.60, 11.85)), 100, "Polícia Federal"),
    R("R12", "maritime", "Pecém", "Lisboa", (
        (-38.80, -3.53), (-37.5, -2.5), (-30.0, 10.0), (-22.0, 33.0), (-10.0, 38.6),
        (-9.14, 38.69)), 60, "Polícia Federal"),
    # Flights from clandestine strips
    R("R13", "air", "Apure", "Petén", ((-70.0, 7.0), (-90.2, 17.0)), 30, "JIATF-South"),
    R("R14", "air", "Apure", "La Mosquitia", ((-69.5, 7.2), (-84.0, 15.0)), 35, "JIATF-South"),
    R("R15", "air", "Sur del Lago (Zulia)", "Laguna del Tigre (Petén)",
      ((-72.0, 9.1), (-90.6, 17.5)), 25, "JIATF-South"),
    R("R16", "air", "Beni", "Chaco paraguayo", ((-65.0, -13.5), (-60.5, -21.5)), 40, "SENAD"),
    R("R17", "air", "Beni", "Mato Grosso", ((-65.4, -13.7), (-57.5, -15.5)), 30,
      "Polícia Federal"),
    R("R18", "air", "VRAEM", "Beni", ((-73.9, -12.4), (-65.4, -13.7)), 45, "DEVIDA"),
    R("R19", "air", "Puerto Inca (Ucayali)", "Beni", ((-74.96, -9.38), (-64.9, -14.5)), 25,
      "DEVIDA"),
    R("R20", "air", "Chaco paraguayo", "Interior de São Paulo",
      ((-60.5, -21.5), (-50.5, -21.5)), 30, "Polícia Federal"),
    R("R21", "air", "La Mosquitia", "Sur de Quintana Roo", ((-84.0, 15.0), (-89.5, 18.5)), 20,
      "SEDENA"),
    R("R22", "air", "Apure", "La Española", ((-69.0, 7.5), (-70.5, 19.0)), 15, "DNCD"),
    # Land corridors
    R("R23", "land", "VRAEM", "La Paz", (
        (-73.83, -12.52), (-71.97, -13.52), (-70.13, -15.50), (-69.04, -16.57),
        (-68.15, -16.50)), 60, "DEVIDA"),
    R("R24", "land", "Chapare", "Corumbá", (
        (-65.42, -16.97), (-63.18, -17.78), (-60.75, -17.85), (-57.80, -18.96),
        (-57.65, -19.00)), 80, "FELCN"),
    R("R25", "land", "Pedro Juan Caballero", "Santos", (
        (-55.73, -22.55), (-54.80, -22.22), (-51.39, -22.12), (-47.06, -22.90),
        (-46.63, -23.55), (-46.30, -23.97)), 90, "Polícia Federal"),
    R("R26", "land", "Santa Cruz", "Rosario", (
        (-63.18, -17.78), (-63.52, -20.05), (-63.68, -22.02), (-63.80, -22.52),
        (-65.04, -24.67), (-64.26, -27.78), (-60.64, -32.95)), 50, "Gendarmería Nacional"),
    R("R27", "land", "Catatumbo", "Maracaibo", (
        (-72.73, 8.64), (-72.45, 9.05), (-72.55, 10.06), (-71.64, 10.64)), 70, "FANB"),
    R("R28", "land", "Tecún Umán", "Nuevo Laredo", (
        (-92.15, 14.68), (-92.27, 14.90), (-95.03, 16.43), (-98.20, 19.04), (-99.13, 19.43),
        (-100.39, 20.59), (-100.98, 22.15), (-100.31, 25.69), (-99.51, 27.48)), 110, "SEDENA"),
    R("R29", "land", "Culiacán", "Nogales", (
        (-107.39, 24.80), (-108.99, 25.79), (-109.44, 27.07), (-110.90, 27.92),
        (-110.96, 29.07), (-110.94, 31.31)), 60, "SEDENA"),
    R("R30", "land", "Puerto Asís", "Guayaquil", (
        (-76.50, 0.50), (-76.89, 0.09), (-77.88, -0.46), (-78.50, -0.20), (-79.17, -0.25),
        (-79.46, -1.03), (-79.90, -2.20)), 70, "Policía Nacional del Ecuador"),
    # Rivers
    R("R31", "river", "Pucallpa", "Tabatinga", (
        (-74.55, -8.38), (-75.01, -7.33), (-74.60, -6.60), (-73.84, -5.06), (-73.58, -4.51),
        (-73.25, -3.75), (-71.82, -3.32), (-70.52, -3.91), (-69.94, -4.25)), 40,
      "Policía Nacional del Perú (DIRANDRO)"),
    R("R32", "river", "Tabatinga", "Manaus", (
        (-69.94, -4.25), (-67.90, -3.40), (-66.06, -2.51), (-64.72, -3.35), (-63.14, -4.08),
        (-60.62, -3.30), (-60.02, -3.13)), 50, "Polícia Federal"),
    R("R33", "river", "Villeta", "Rosario", (
        (-57.56, -25.50), (-58.30, -26.86), (-58.83, -27.47), (-59.26, -29.14),
        (-60.52, -31.73), (-60.64, -32.95)), 70, "Prefectura Naval Argentina"),
    R("R34", "river", "Puerto Asís", "Santo Antônio do Içá", (
        (-76.50, 0.50), (-74.78, -0.19), (-73.00, -1.30), (-71.00, -2.30), (-69.50, -2.80),
        (-67.94, -3.10)), 20, "Armada de Colombia"),
    # Intermodal: container through the canal, precursors landed and trucked
    R("R35", "intermodal", "Guayaquil (Posorja)", "Rotterdam", (
        (-80.25, -2.72), (-81.2, -2.0), (-80.6, 3.0), (-79.3, 7.5), (-79.55, 8.93),
        (-79.90, 9.37), (-79.0, 11.5), (-74.2, 19.9), (-70.0, 25.0), (-40.0, 42.0),
        (-5.5, 49.0), (2.0, 51.3), (4.05, 51.95)), 250, "UNODC"),
    R("R36", "intermodal", "Lázaro Cárdenas", "Culiacán", (
        (-102.20, 17.95), (-102.35, 19.08), (-102.06, 19.41), (-103.35, 20.67),
        (-104.89, 21.50), (-106.42, 23.24), (-107.39, 24.80)), 30, "SEMAR"),
)


@dataclass(frozen=True)
class StripCluster:
    """A region where clandestine airstrips are known to cluster (centre, spread, share)."""

    name: str
    lon: float
    lat: float
    spread_km: float
    weight: float


S = StripCluster
STRIP_CLUSTERS: tuple[StripCluster, ...] = (
    S("Beni", -65.3, -13.9, 110, 5.0),
    S("Santa Cruz", -61.8, -16.6, 110, 3.0),
    S("Petén", -90.4, 17.3, 45, 3.0),
    S("La Mosquitia", -84.2, 15.1, 45, 3.0),
    S("Apure", -69.6, 7.1, 80, 3.0),
    S("Zulia", -72.5, 9.5, 35, 1.5),
    S("Amazonas", -66.5, -5.5, 180, 2.0),
    S("Roraima", -63.0, 3.0, 110, 2.0),
    S("Chaco", -60.6, -21.6, 110, 3.0),
    S("Ucayali", -74.5, -9.1, 70, 2.5),
    S("VRAEM", -74.0, -12.2, 35, 1.5),
)
