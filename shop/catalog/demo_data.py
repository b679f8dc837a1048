"""Vocabulary of the demo catalog: departments, categories with price ranges and attributes, brands, colours."""

from dataclasses import dataclass, field

# Colour name -> placeholder background, so a product's tile shows the colour its attributes claim.
COLOURS: dict[str, str] = {
    "Black": "#1f1f22",
    "White": "#f2f1ed",
    "Charcoal": "#3b3f45",
    "Grey": "#8c9096",
    "Silver": "#c0c4c8",
    "Navy": "#1f2d4a",
    "Blue": "#2f62b0",
    "Sky Blue": "#8ec0e4",
    "Teal": "#1f7a7a",
    "Sage": "#9caf88",
    "Olive": "#6b6b34",
    "Forest Green": "#2e5a3a",
    "Red": "#c0392b",
    "Burgundy": "#6d1f2f",
    "Pink": "#e8a0b4",
    "Blush": "#f0c8c0",
    "Mustard": "#d4a22b",
    "Yellow": "#f2cf3a",
    "Orange": "#e07b2f",
    "Terracotta": "#c0623f",
    "Cream": "#f3ead6",
    "Ivory": "#f6f1e1",
    "Beige": "#d9c7a7",
    "Tan": "#b98a5a",
    "Brown": "#6b4a2e",
    "Rose Gold": "#d8a48f",
    "Gold": "#c9a227",
    "Copper": "#b8733d",
    "Purple": "#6a4c93",
    "Lilac": "#c4a7d7",
    "Indigo": "#2b3a67",
    "Light Wash": "#9bb4cf",
    "Mid Wash": "#5f7fa6",
    "Dark Wash": "#2c3e5c",
    "Natural": "#e6d9bf",
    "Oak": "#c19a6b",
    "Walnut": "#5d4330",
    "Stainless Steel": "#b4b8bc",
    "Multicolour": "#7f6fb0",
}

NEUTRALS = ("Black", "White", "Grey", "Navy", "Charcoal")
BRIGHTS = ("Red", "Blue", "Yellow", "Orange", "Pink", "Teal", "Purple", "Multicolour")
EARTHY = ("Sage", "Terracotta", "Mustard", "Cream", "Olive", "Blush", "Beige", "Forest Green")

# Model lines for electronics titles: short, brand-neutral words.
LINES = ("Nova", "Arc", "Pulse", "Echo", "Aero", "Core", "Edge", "Flux", "Halo", "Luma", "Onyx", "Vista", "Zen")


@dataclass(frozen=True)
class CategorySpec:
    """One category: what its products are called, cost and are made of.

    `title` and `features` are format strings over the product's fields: brand, line, style,
    noun, colour, material (Material in title case), size and every key of `extras`.
    """

    name: str
    price: tuple[int, int]  # pounds, inclusive
    nouns: tuple[str, ...]
    styles: tuple[str, ...]
    colours: tuple[str, ...]
    materials: tuple[str, ...]
    features: tuple[str, ...]
    sizes: tuple[str, ...] = ()
    size_template: str = ""  # builds the size from extras when set, e.g. "W{waist} L{leg}"
    extras: dict[str, tuple[str, ...]] = field(default_factory=dict)
    title: str = "{brand} {style} {noun}, {colour}"


@dataclass(frozen=True)
class DepartmentSpec:
    name: str
    description: str
    categories: tuple[CategorySpec, ...]


@dataclass(frozen=True)
class BrandSpec:
    name: str
    tier: str  # budget, mid or premium: where in a category's price range the brand sits
    categories: tuple[str, ...]
    tagline: str


ELECTRONICS = DepartmentSpec(
    "Electronics",
    "Headphones, speakers and the small gadgets that keep a day running.",
    (
        CategorySpec(
            "Headphones",
            (15, 350),
            ("Over-Ear Headphones", "On-Ear Headphones", "In-Ear Earbuds"),
            ("Wireless", "Noise-Cancelling", "Studio", "Sport", "Foldable", "Bass"),
            ("Black", "White", "Silver", "Navy", "Rose Gold", "Sage"),
            ("Plastic", "Aluminium", "Memory foam and aluminium"),
            (
                "{driver_size} drivers give a full, even sound.",
                "Up to {battery_life} of playback on one charge.",
                "Connects over {connectivity}.",
                "Soft ear cushions make long listening comfortable.",
                "Folds flat into the travel pouch.",
            ),
            title="{brand} {line} {style} {noun}, {colour}",
            extras={
                "driver_size": ("10 mm", "30 mm", "40 mm", "50 mm"),
                "battery_life": ("20 hours", "30 hours", "40 hours", "60 hours"),
                "connectivity": ("Bluetooth 5.3", "Bluetooth 5.0", "Bluetooth and 3.5 mm cable"),
            },
        ),
        CategorySpec(
            "Speakers",
            (20, 400),
            ("Bluetooth Speaker", "Smart Speaker", "Party Speaker", "Mini Speaker"),
            ("Portable", "Waterproof", "Compact", "Rugged", "Home"),
            ("Black", "Grey", "Blue", "Red", "Sage", "White"),
            ("Fabric and plastic", "Aluminium", "Wood veneer"),
            (
                "{wattage} of output fills a room without distortion.",
                "Pairs over Bluetooth in seconds.",
                "Pair two for stereo sound.",
                "A {material} body built to be carried about.",
            ),
            title="{brand} {line} {style} {noun}, {colour}",
            extras={"wattage": ("10 W", "20 W", "40 W", "60 W", "120 W")},
        ),
        CategorySpec(
            "Chargers & Cables",
            (5, 60),
            ("USB-C Charger", "Charging Cable", "Power Bank", "Wireless Charging Pad"),
            ("Fast", "Braided", "Slim", "Travel", "Dual-Port"),
            ("Black", "White", "Grey"),
            ("Plastic", "Braided nylon", "Aluminium"),
            (
                "Delivers up to {wattage}.",
                "The {length} cable reaches from the socket to the sofa.",
                "Overheat and surge protection built in.",
                "Small enough for a coat pocket.",
            ),
            extras={"wattage": ("20 W", "30 W", "45 W", "65 W", "100 W"), "length": ("1 m", "1.5 m", "2 m")},
        ),
        CategorySpec(
            "Smartwatches",
            (40, 450),
            ("Smartwatch", "Fitness Tracker", "GPS Watch"),
            ("Active", "Classic", "Sport", "Slim", "Outdoor"),
            ("Black", "Silver", "Rose Gold", "Navy", "Sage"),
            ("Aluminium", "Stainless steel", "Titanium"),
            (
                "A {case_size} case with an always-on display.",
                "Tracks heart rate, sleep and steps.",
                "Lasts {battery_life} on a charge.",
                "Water-resistant to 50 metres.",
            ),
            title="{brand} {line} {style} {noun}, {colour}",
            extras={"case_size": ("38 mm", "41 mm", "44 mm", "46 mm"), "battery_life": ("2 days", "7 days", "14 days")},
        ),
        CategorySpec(
            "Keyboards & Mice",
            (10, 180),
            ("Mechanical Keyboard", "Wireless Keyboard", "Ergonomic Mouse", "Gaming Mouse"),
            ("Compact", "Quiet", "Backlit", "Travel", "Pro"),
            ("Black", "White", "Grey", "Pink"),
            ("Plastic", "Aluminium"),
            (
                "Connects by {connectivity}.",
                "Rechargeable over USB-C.",
                "Shaped for long days at a desk.",
            ),
            extras={"connectivity": ("Bluetooth", "2.4 GHz receiver", "USB cable")},
        ),
        CategorySpec(
            "Phone Cases",
            (6, 45),
            ("Phone Case", "Wallet Case", "Rugged Case"),
            ("Slim", "Shockproof", "Matte", "Textured", "Everyday"),
            ("Black", "Navy", "Pink", "Sage", "Tan", "Burgundy"),
            ("Silicone", "Polycarbonate", "Leather"),
            (
                "Fits {fits}.",
                "Raised edges guard the screen and camera.",
                "Works with wireless charging.",
                "A {material} shell with a soft-touch finish.",
            ),
            extras={"fits": ("6.1-inch phones", "6.7-inch phones", "5.8-inch phones")},
        ),
    ),
)

HOME = DepartmentSpec(
    "Home & Kitchen",
    "Things for the kitchen, the table and the bedroom that are nice to use every day.",
    (
        CategorySpec(
            "Mugs",
            (4, 25),
            ("Mug", "Latte Mug", "Espresso Cup", "Travel Mug"),
            ("Speckled", "Glazed", "Dipped", "Striped", "Spotted", "Classic"),
            (*EARTHY, "White", "Navy", "Black"),
            ("Stoneware", "Porcelain", "Enamel", "Earthenware"),
            (
                "Holds {capacity}.",
                "Dishwasher and microwave safe.",
                "A generous handle that fits the whole hand.",
                "Each glaze varies a little, so no two are quite alike.",
            ),
            title="{brand} {style} {Material} {noun}, {colour}",
            extras={"capacity": ("250 ml", "300 ml", "350 ml", "400 ml", "450 ml")},
        ),
        CategorySpec(
            "Cookware",
            (15, 180),
            ("Frying Pan", "Saucepan", "Casserole Dish", "Wok", "Griddle Pan"),
            ("Everyday", "Professional", "Heritage", "Deep", "Family"),
            ("Black", "Stainless Steel", "Red", "Sage", "Cream", "Navy"),
            ("Cast iron", "Stainless steel", "Aluminium", "Carbon steel"),
            (
                "Suits {hob}.",
                "Oven safe up to 240°C.",
                "Heats evenly right to the edge.",
                "A {size} pan that covers most family meals.",
            ),
            sizes=("16 cm", "20 cm", "24 cm", "28 cm", "30 cm"),
            title="{brand} {style} {Material} {noun}, {colour}",
            extras={"hob": ("all hobs including induction", "gas and electric hobs")},
        ),
        CategorySpec(
            "Kitchen Knives",
            (8, 150),
            ("Chef's Knife", "Santoku Knife", "Paring Knife", "Bread Knife", "Knife Block Set"),
            ("Forged", "Classic", "Professional", "Everyday", "Hammered"),
            ("Black", "Stainless Steel", "Oak", "Walnut"),
            ("German steel", "Japanese steel", "Stainless steel"),
            (
                "A {blade_length} blade of {material}.",
                "Balanced for long prep sessions.",
                "Hand wash to keep the edge keen.",
                "A full tang runs through the handle.",
            ),
            extras={"blade_length": ("9 cm", "15 cm", "18 cm", "20 cm", "23 cm")},
        ),
        CategorySpec(
            "Kettles",
            (20, 130),
            ("Kettle", "Jug Kettle", "Dome Kettle"),
            ("Quiet Boil", "Rapid Boil", "Retro", "Brushed", "Temperature Control"),
            ("Black", "White", "Cream", "Stainless Steel", "Sage", "Red"),
            ("Stainless steel", "Plastic", "Glass"),
            (
                "Boils {capacity} at {wattage}.",
                "A limescale filter keeps tea clear.",
                "Shows the water level on both sides.",
                "Switches itself off when it boils dry.",
            ),
            extras={"capacity": ("1.0 L", "1.5 L", "1.7 L"), "wattage": ("2200 W", "2600 W", "3000 W")},
        ),
        CategorySpec(
            "Toasters",
            (20, 120),
            ("2-Slice Toaster", "4-Slice Toaster", "Long-Slot Toaster"),
            ("Retro", "Brushed", "Compact", "Digital", "Classic"),
            ("Black", "White", "Cream", "Stainless Steel", "Sage", "Red"),
            ("Stainless steel", "Plastic"),
            (
                "{wattage} with six browning levels.",
                "Reheat, defrost and cancel buttons.",
                "Wide slots take crumpets and bagels.",
                "A pull-out crumb tray makes cleaning easy.",
            ),
            extras={"wattage": ("800 W", "1000 W", "1500 W", "1800 W")},
        ),
        CategorySpec(
            "Coffee Makers",
            (25, 400),
            ("Espresso Machine", "Filter Coffee Machine", "Bean-to-Cup Machine", "Pod Coffee Machine"),
            ("Barista", "Compact", "Classic", "Programmable", "Digital"),
            ("Black", "Stainless Steel", "Cream", "Red", "Copper"),
            ("Stainless steel", "Glass", "Plastic"),
            (
                "A {water_tank} water tank.",
                "Heats up in under a minute.",
                "Switches itself off after 30 minutes.",
                "The drip tray and water tank come out for cleaning.",
            ),
            extras={"water_tank": ("0.8 L", "1.2 L", "1.5 L", "1.8 L")},
        ),
        CategorySpec(
            "Bedding",
            (20, 150),
            ("Duvet Cover Set", "Fitted Sheet", "Pillowcase Pair", "Duvet"),
            ("Washed", "Stonewashed", "Striped", "Plain", "Waffle", "Seersucker"),
            ("White", "Ivory", "Grey", "Sage", "Blush", "Navy", "Terracotta"),
            ("Cotton", "Linen", "Organic cotton", "Cotton and linen"),
            (
                "A {thread_count} weave that softens with every wash.",
                "Machine wash at 40°C.",
                "Fits a {size} bed.",
                "Made of {material}.",
            ),
            sizes=("Single", "Double", "King", "Super King"),
            title="{brand} {style} {Material} {noun}, {colour}",
            extras={"thread_count": ("180 thread count", "200 thread count", "300 thread count", "400 thread count")},
        ),
        CategorySpec(
            "Towels",
            (5, 40),
            ("Towel", "Towel Bale", "Bath Mat"),
            ("Waffle", "Quick-Dry", "Striped", "Hotel", "Plush", "Ribbed"),
            ("White", "Grey", "Sage", "Blush", "Navy", "Mustard", "Charcoal"),
            ("Cotton", "Egyptian cotton", "Bamboo and cotton"),
            (
                "{weight} for a thick, absorbent pile.",
                "Colourfast and machine washable.",
                "Soft from the first use.",
            ),
            sizes=("Hand", "Bath", "Bath Sheet"),
            extras={"weight": ("500 gsm", "600 gsm", "700 gsm")},
        ),
        CategorySpec(
            "Candles",
            (6, 45),
            ("Scented Candle", "Pillar Candle", "Candle Tin", "Three-Wick Candle"),
            ("Fig & Cedar", "Lavender", "Sea Salt", "Amber", "Orange Blossom", "Fresh Linen"),
            ("White", "Cream", "Sage", "Blush", "Terracotta", "Black"),
            ("Soy wax", "Rapeseed wax", "Beeswax"),
            (
                "Burns for about {burn_time}.",
                "Hand-poured {material} with a cotton wick.",
                "Trim the wick before each lighting for a clean burn.",
            ),
            extras={"burn_time": ("20 hours", "30 hours", "45 hours", "60 hours")},
        ),
        CategorySpec(
            "Cushions",
            (10, 50),
            ("Cushion", "Cushion Cover", "Bolster Cushion"),
            ("Embroidered", "Tufted", "Piped", "Fringed", "Plain", "Striped"),
            (*EARTHY, "Navy", "Grey"),
            ("Cotton", "Linen", "Velvet", "Wool blend"),
            (
                "Measures {size}.",
                "Filled with {fill}.",
                "A hidden zip lets the cover come off for washing.",
            ),
            sizes=("30 x 50 cm", "45 x 45 cm", "50 x 50 cm", "60 x 60 cm"),
            title="{brand} {style} {Material} {noun}, {colour}",
            extras={"fill": ("feather", "recycled polyester", "no filling (cover only)")},
        ),
    ),
)

FASHION = DepartmentSpec(
    "Fashion",
    "Clothes and shoes made to be worn often.",
    (
        CategorySpec(
            "Jeans",
            (25, 120),
            ("Jeans",),
            ("Slim Fit", "Straight Leg", "Relaxed Fit", "Skinny", "Bootcut", "Tapered", "Wide Leg"),
            ("Indigo", "Light Wash", "Mid Wash", "Dark Wash", "Black", "Grey"),
            ("Cotton denim", "Stretch denim", "Organic cotton denim"),
            (
                "Cut from {material}.",
                "Waist {waist} inches, leg {leg} inches.",
                "Five pockets and a zip fly.",
                "Wash inside out to keep the colour.",
            ),
            size_template="W{waist} L{leg}",
            extras={"waist": ("28", "30", "32", "34", "36", "38", "40"), "leg": ("28", "30", "32", "34")},
        ),
        CategorySpec(
            "T-Shirts",
            (8, 40),
            ("T-Shirt", "Long-Sleeve T-Shirt", "Polo Shirt"),
            ("Crew Neck", "V-Neck", "Striped", "Pocket", "Oversized", "Organic"),
            (*NEUTRALS, "Sage", "Blush", "Mustard", "Red", "Sky Blue"),
            ("Cotton", "Organic cotton", "Cotton jersey"),
            ("Size {size}.", "Soft {material} that keeps its shape.", "Machine wash at 30°C."),
            sizes=("XS", "S", "M", "L", "XL", "XXL"),
        ),
        CategorySpec(
            "Jumpers",
            (25, 140),
            ("Jumper", "Cardigan", "Hoodie", "Roll Neck"),
            ("Cable Knit", "Chunky", "Fine Knit", "Fisherman", "Crew Neck"),
            ("Cream", "Navy", "Charcoal", "Forest Green", "Burgundy", "Mustard", "Oak"),
            ("Merino wool", "Lambswool", "Cotton", "Cashmere blend"),
            ("Size {size}.", "Knitted from {material}.", "Ribbed cuffs and hem hold their shape."),
            sizes=("XS", "S", "M", "L", "XL", "XXL"),
        ),
        CategorySpec(
            "Jackets",
            (45, 300),
            ("Jacket", "Parka", "Rain Jacket", "Gilet", "Overshirt"),
            ("Field", "Utility", "Classic", "Lightweight", "Hooded", "Relaxed"),
            ("Black", "Navy", "Olive", "Tan", "Charcoal", "Forest Green"),
            ("Waxed cotton", "Recycled nylon", "Wool blend", "Cotton denim"),
            ("Size {size}.", "An outer of {material}.", "Two zipped hand pockets.", "Cut to layer over a jumper."),
            sizes=("XS", "S", "M", "L", "XL", "XXL"),
        ),
        CategorySpec(
            "Dresses",
            (25, 150),
            ("Midi Dress", "Maxi Dress", "Shirt Dress", "Wrap Dress", "Slip Dress"),
            ("Floral", "Belted", "Tiered", "Smocked", "Pleated", "Printed"),
            ("Black", "Navy", "Sage", "Terracotta", "Blush", "Mustard", "Red", "Cream"),
            ("Cotton", "Linen", "Viscose", "Silk"),
            ("UK size {size}.", "Made of {material}.", "Has pockets.", "Falls just below the knee on most."),
            sizes=("6", "8", "10", "12", "14", "16", "18"),
        ),
        CategorySpec(
            "Trainers",
            (35, 160),
            ("Trainers", "Running Shoes", "Low-Top Trainers"),
            ("Classic", "Retro", "Lightweight", "Court", "Trail"),
            ("White", "Black", "Navy", "Grey", "Red", "Cream"),
            ("Leather", "Canvas", "Recycled mesh", "Suede"),
            ("UK size {size}.", "A cushioned insole for all-day wear.", "Uppers of {material}."),
            sizes=tuple(str(n) for n in range(3, 13)),
        ),
        CategorySpec(
            "Boots",
            (45, 220),
            ("Chelsea Boots", "Walking Boots", "Ankle Boots", "Wellington Boots"),
            ("Classic", "Heritage", "Waterproof", "Lace-Up", "Lined"),
            ("Black", "Brown", "Tan", "Olive", "Burgundy"),
            ("Leather", "Suede", "Rubber"),
            ("UK size {size}.", "A grippy rubber sole.", "Made of {material} that softens with wear."),
            sizes=tuple(str(n) for n in range(3, 13)),
        ),
        CategorySpec(
            "Scarves",
            (10, 60),
            ("Scarf", "Snood", "Blanket Scarf"),
            ("Checked", "Ribbed", "Fringed", "Plain", "Striped"),
            ("Cream", "Navy", "Burgundy", "Mustard", "Grey", "Forest Green", "Blush"),
            ("Lambswool", "Merino wool", "Cashmere", "Cotton"),
            ("Woven from {material}.", "Long enough to wrap twice.", "Measures {length}."),
            extras={"length": ("160 x 30 cm", "180 x 35 cm", "200 x 70 cm")},
        ),
        CategorySpec(
            "Socks",
            (4, 18),
            ("Socks", "Ankle Socks", "Walking Socks", "Sock Gift Box"),
            ("Striped", "Spotted", "Ribbed", "Cushioned", "Patterned"),
            ("Navy", "Grey", "Mustard", "Red", "Forest Green", "Multicolour", "Black"),
            ("Cotton", "Merino wool", "Bamboo"),
            ("Fits UK {size}.", "A reinforced heel and toe.", "{material} keeps feet comfortable all day."),
            sizes=("4-7", "7-11", "11-13"),
        ),
    ),
)

SPORTS = DepartmentSpec(
    "Sports & Outdoors",
    "Kit for the gym, the trail and the campsite.",
    (
        CategorySpec(
            "Yoga Mats",
            (12, 80),
            ("Yoga Mat", "Travel Yoga Mat", "Exercise Mat"),
            ("Non-Slip", "Studio", "Alignment", "Eco", "Cushioned"),
            ("Sage", "Lilac", "Navy", "Black", "Terracotta", "Blush", "Teal"),
            ("Natural rubber", "TPE", "Cork and rubber", "PVC-free foam"),
            ("{thickness} thick.", "Grips when sweaty.", "Rolls up with the strap included.", "Made of {material}."),
            sizes=("173 x 61 cm", "183 x 61 cm", "183 x 66 cm"),
            extras={"thickness": ("3 mm", "4 mm", "6 mm", "8 mm")},
        ),
        CategorySpec(
            "Water Bottles",
            (6, 40),
            ("Water Bottle", "Sports Bottle", "Flask"),
            ("Leakproof", "Wide Mouth", "Everyday", "Slim", "Trail"),
            ("Black", "White", "Sage", "Navy", "Pink", "Mustard", "Teal", "Stainless Steel"),
            ("Stainless steel", "Tritan plastic", "Aluminium"),
            ("Holds {capacity}.", "A leakproof lid with a carry loop.", "Fits most cup holders."),
            extras={"capacity": ("500 ml", "750 ml", "1 L")},
        ),
        CategorySpec(
            "Backpacks",
            (20, 160),
            ("Backpack", "Daypack", "Hiking Pack", "Roll-Top Bag"),
            ("Waterproof", "Lightweight", "Commuter", "Trekking", "Packable"),
            ("Black", "Navy", "Olive", "Mustard", "Charcoal", "Orange"),
            ("Recycled polyester", "Waxed canvas", "Ripstop nylon"),
            ("{capacity} capacity.", "A padded laptop sleeve.", "Chest and hip straps spread the load."),
            extras={"capacity": ("15 L", "20 L", "28 L", "35 L", "45 L", "65 L")},
        ),
        CategorySpec(
            "Tents",
            (40, 450),
            ("Tent", "Dome Tent", "Tunnel Tent", "Pop-Up Tent"),
            ("Backpacking", "Family", "Festival", "Four-Season", "Lightweight"),
            ("Forest Green", "Orange", "Grey", "Blue", "Beige"),
            ("Polyester", "Ripstop nylon", "Polycotton"),
            (
                "Sleeps {berths}.",
                "Packs down to {weight}.",
                "A {hydrostatic_head} hydrostatic head keeps the rain out.",
                "Colour-coded poles make pitching quick.",
            ),
            extras={
                "berths": ("1", "2", "3", "4", "6"),
                "weight": ("1.2 kg", "2.1 kg", "3.5 kg", "8 kg"),
                "hydrostatic_head": ("2000 mm", "3000 mm", "4000 mm"),
            },
        ),
        CategorySpec(
            "Dumbbells",
            (8, 150),
            ("Dumbbell Pair", "Hex Dumbbell", "Adjustable Dumbbell Set", "Kettlebell"),
            ("Studio", "Home Gym", "Classic", "Pro", "Compact"),
            ("Black", "Grey", "Pink", "Sky Blue", "Lilac"),
            ("Cast iron", "Rubber-coated iron", "Neoprene-coated iron"),
            ("{weight} each.", "A knurled grip that will not slip.", "Flat sides stop it rolling away."),
            extras={"weight": ("2 kg", "4 kg", "6 kg", "10 kg", "16 kg", "24 kg")},
        ),
        CategorySpec(
            "Cycling Helmets",
            (25, 180),
            ("Cycling Helmet", "Commuter Helmet", "MTB Helmet"),
            ("Aero", "Urban", "Trail", "Lightweight", "Vented"),
            ("Black", "White", "Sage", "Navy", "Red", "Yellow"),
            ("EPS foam and polycarbonate",),
            ("Size {size}.", "{vents} vents keep air moving.", "A rear light clips into the back."),
            sizes=("S (51-55 cm)", "M (55-59 cm)", "L (59-63 cm)"),
            extras={"vents": ("12", "16", "21", "28")},
        ),
    ),
)

BEAUTY = DepartmentSpec(
    "Beauty",
    "Skincare, haircare and fragrance.",
    (
        CategorySpec(
            "Moisturisers",
            (6, 70),
            ("Day Cream", "Night Cream", "Face Moisturiser", "Hydrating Gel"),
            ("Rich", "Light", "Calming", "Brightening", "Barrier Repair"),
            ("White", "Cream", "Blush"),
            ("Glass jar", "Recyclable tube"),
            ("{volume}.", "Suits {skin_type} skin.", "Fragrance-free and dermatologically tested."),
            extras={"volume": ("30 ml", "50 ml", "75 ml", "100 ml"), "skin_type": ("dry", "normal", "oily", "all")},
        ),
        CategorySpec(
            "Shampoo",
            (3, 25),
            ("Shampoo", "Conditioner", "Hair Mask"),
            ("Volumising", "Repairing", "Gentle", "Curl", "Clarifying"),
            ("White", "Sage", "Lilac", "Blush", "Mustard"),
            ("Recycled plastic bottle", "Aluminium bottle"),
            ("{volume}.", "For {hair_type} hair.", "Free of sulphates and silicones."),
            extras={"volume": ("250 ml", "300 ml", "400 ml"), "hair_type": ("fine", "curly", "dry", "all")},
        ),
        CategorySpec(
            "Fragrance",
            (18, 120),
            ("Eau de Parfum", "Eau de Toilette", "Perfume Oil"),
            ("Oud & Rose", "Neroli", "Vetiver", "White Tea", "Bergamot", "Fig Leaf"),
            ("Blush", "Gold", "Mustard", "White", "Black"),
            ("Glass bottle",),
            ("{volume}.", "Lasts through the day.", "Top notes open bright and settle into something warmer."),
            title="{brand} {style} {noun}, {volume}",
            extras={"volume": ("10 ml", "30 ml", "50 ml", "100 ml")},
        ),
        CategorySpec(
            "Lipstick",
            (5, 35),
            ("Lipstick", "Lip Tint", "Lip Gloss"),
            ("Velvet", "Creamy", "Long-Wear", "Hydrating", "Classic"),
            ("Red", "Pink", "Blush", "Burgundy", "Terracotta", "Brown"),
            ("Refillable aluminium case", "Recycled plastic case"),
            ("A {finish} finish.", "Enriched with shea butter.", "Buildable from a wash of colour to full coverage."),
            extras={"finish": ("matte", "satin", "gloss")},
        ),
        CategorySpec(
            "Makeup Brushes",
            (5, 60),
            ("Brush Set", "Eye Brush Set", "Face Brush Set", "Travel Brush Set"),
            ("Vegan", "Travel", "Professional", "Everyday"),
            ("Black", "Rose Gold", "Blush", "Oak"),
            ("Synthetic bristles", "Bamboo handle"),
            ("{pieces} in the set.", "Soft synthetic bristles that do not shed.", "Wash gently and dry flat."),
            extras={"pieces": ("3 brushes", "5 brushes", "8 brushes", "12 brushes")},
        ),
    ),
)

TOYS = DepartmentSpec(
    "Toys & Games",
    "Games for the table and toys for little ones.",
    (
        CategorySpec(
            "Board Games",
            (10, 60),
            ("Board Game", "Card Game", "Strategy Game", "Party Game"),
            ("Family", "Cooperative", "Classic", "Quick-Play", "Deluxe"),
            ("Multicolour", "Navy", "Red", "Forest Green", "Mustard"),
            ("Card and wood",),
            ("For {players} players.", "Ages {age}.", "A game takes about {play_time}."),
            title="{brand} {style} {noun}: {theme}",
            extras={
                "players": ("2", "2-4", "2-6", "3-8"),
                "age": ("6+", "8+", "10+", "14+"),
                "play_time": ("15 minutes", "30 minutes", "45 minutes", "90 minutes"),
                "theme": ("Harbour Lights", "Forest Folk", "Sky Islands", "Night Market", "Dragon Pass", "Tea Party"),
            },
        ),
        CategorySpec(
            "Jigsaw Puzzles",
            (8, 35),
            ("Jigsaw Puzzle",),
            ("Botanical", "Coastal", "Vintage Map", "Illustrated", "Wildlife", "City"),
            ("Multicolour", "Blue", "Sage", "Mustard", "Terracotta"),
            ("Recycled card",),
            ("{pieces} pieces.", "Finished size {finished_size}.", "A poster of the picture is in the box."),
            title="{brand} {style} {noun}, {pieces} Pieces",
            extras={"pieces": ("300", "500", "1000", "1500"), "finished_size": ("48 x 34 cm", "68 x 49 cm")},
        ),
        CategorySpec(
            "Building Sets",
            (10, 150),
            ("Building Set", "Construction Kit", "Marble Run"),
            ("Castle", "Space Station", "Fire Station", "Treehouse", "Pirate Ship", "Racing Car"),
            ("Multicolour", "Red", "Blue", "Yellow", "Grey"),
            ("Plastic", "Wood"),
            ("{pieces} pieces.", "Ages {age}.", "Step-by-step instructions included."),
            title="{brand} {style} {noun}",
            extras={"pieces": ("120", "250", "480", "900", "1500"), "age": ("4+", "6+", "8+", "12+")},
        ),
        CategorySpec(
            "Soft Toys",
            (6, 40),
            ("Teddy Bear", "Bunny", "Elephant", "Fox", "Penguin", "Dinosaur"),
            ("Cuddly", "Knitted", "Plush", "Sleepy", "Giant"),
            ("Cream", "Brown", "Grey", "Blush", "Sage", "Orange"),
            ("Plush polyester", "Organic cotton", "Knitted cotton"),
            ("{height} tall.", "Safe from birth.", "Surface wash only."),
            extras={"height": ("20 cm", "30 cm", "45 cm", "60 cm")},
        ),
    ),
)

DEPARTMENTS: tuple[DepartmentSpec, ...] = (ELECTRONICS, HOME, FASHION, SPORTS, BEAUTY, TOYS)

BRANDS: tuple[BrandSpec, ...] = (
    # Electronics
    BrandSpec("Sonora", "premium", ("Headphones", "Speakers"), "Sound engineered in small batches."),
    BrandSpec("Auralis", "premium", ("Headphones", "Speakers", "Smartwatches"), "Quiet design, big sound."),
    BrandSpec("Beatline", "mid", ("Headphones", "Speakers"), "Made for music on the move."),
    BrandSpec("Quill Audio", "budget", ("Headphones", "Speakers", "Chargers & Cables"), "Good sound for less."),
    BrandSpec("Voltaic", "budget", ("Chargers & Cables", "Phone Cases", "Keyboards & Mice"), "Power for every device."),
    BrandSpec("Northwave", "mid", ("Smartwatches", "Headphones"), "Tech for the outdoors."),
    BrandSpec("Pulsefit", "mid", ("Smartwatches",), "Know your body better."),
    BrandSpec("Keystone Labs", "mid", ("Keyboards & Mice",), "Tools for people who type all day."),
    BrandSpec("Clickwell", "budget", ("Keyboards & Mice", "Chargers & Cables"), "Desk gear that just works."),
    BrandSpec("Shellguard", "budget", ("Phone Cases",), "Drop-tested protection."),
    BrandSpec("Lumen Tech", "mid", ("Chargers & Cables", "Smartwatches", "Phone Cases"), "Small gadgets, well made."),
    # Home & Kitchen
    BrandSpec("Hearth & Home", "mid", ("Mugs", "Cushions", "Candles", "Towels"), "Pieces that make a house a home."),
    BrandSpec("Stoneleigh Pottery", "premium", ("Mugs",), "Thrown and glazed by hand in Stoke."),
    BrandSpec("Brewhaus", "mid", ("Kettles", "Toasters", "Coffee Makers", "Mugs"), "For a better breakfast."),
    BrandSpec("Kettleby", "budget", ("Kettles", "Toasters", "Coffee Makers"), "Kitchen basics that last."),
    BrandSpec("Morrow Electric", "mid", ("Kettles", "Toasters", "Coffee Makers"), "Small appliances, built to mend."),
    BrandSpec("Crema & Co", "premium", ("Coffee Makers", "Mugs"), "Coffee, taken seriously."),
    BrandSpec("Ironfield", "premium", ("Cookware", "Kitchen Knives"), "Cookware for a lifetime."),
    BrandSpec("Panworks", "budget", ("Cookware",), "Everyday pans at everyday prices."),
    BrandSpec("Edgecraft", "mid", ("Kitchen Knives",), "Sharp, balanced, honest."),
    BrandSpec("Loom Basics", "budget", ("Mugs", "Cookware", "Towels", "Bedding", "Kitchen Knives"), "Our own label."),
    BrandSpec("Slumberwell", "mid", ("Bedding", "Towels", "Cushions"), "Sleep well, every night."),
    BrandSpec("Linen Hall", "premium", ("Bedding", "Towels"), "Linen woven in Northern Ireland."),
    BrandSpec("Wick & Wax", "mid", ("Candles",), "Hand-poured candles from Devon."),
    BrandSpec("Ember Lane", "premium", ("Candles", "Cushions"), "Quiet luxury for the home."),
    # Fashion
    BrandSpec("Denim Republic", "mid", ("Jeans", "Jackets", "T-Shirts"), "Denim done properly."),
    BrandSpec("Indigo Mill", "premium", ("Jeans", "Jackets"), "Selvedge denim, woven slowly."),
    BrandSpec("Thread & Co", "budget", ("T-Shirts", "Socks", "Jumpers", "Dresses"), "Wardrobe staples."),
    BrandSpec("Woolhouse", "premium", ("Jumpers", "Scarves", "Socks"), "Knitwear from Scottish mills."),
    BrandSpec("Northfold", "mid", ("Jackets", "Jumpers", "Scarves"), "Clothes for a British winter."),
    BrandSpec("Stride", "mid", ("Trainers", "Socks"), "Shoes that keep up."),
    BrandSpec("Cobbler & Sons", "premium", ("Boots", "Trainers"), "Goodyear-welted since 1921."),
    BrandSpec("Marigold", "mid", ("Dresses", "Scarves", "T-Shirts"), "Prints with a sunny disposition."),
    BrandSpec("Basics Collective", "budget", ("T-Shirts", "Socks", "Jeans", "Trainers"), "Less, but better."),
    BrandSpec("Fenwick Row", "mid", ("Boots", "Dresses", "Jumpers"), "Country clothing for town."),
    # Sports & Outdoors
    BrandSpec("Trailmark", "mid", ("Boots", "Jackets", "Backpacks", "Tents", "Water Bottles"), "Made for the hills."),
    BrandSpec("Flowform", "mid", ("Yoga Mats", "Water Bottles"), "Move freely."),
    BrandSpec("Zenith Yoga", "premium", ("Yoga Mats",), "Mats for a serious practice."),
    BrandSpec("Hydropeak", "mid", ("Water Bottles",), "Stay topped up."),
    BrandSpec("Summit Gear", "premium", ("Backpacks", "Tents"), "Kit for the high places."),
    BrandSpec("Ironcore", "mid", ("Dumbbells",), "Strength at home."),
    BrandSpec("Forge Fitness", "budget", ("Dumbbells", "Yoga Mats"), "Train anywhere."),
    BrandSpec("Velocity", "mid", ("Cycling Helmets", "Water Bottles", "Backpacks"), "Ride further."),
    BrandSpec("Spoke & Chain", "premium", ("Cycling Helmets",), "Protection without the weight."),
    BrandSpec("Camp Lite", "budget", ("Tents", "Backpacks", "Dumbbells"), "Outdoors on a budget."),
    BrandSpec("Helix Sport", "budget", ("Cycling Helmets", "Yoga Mats", "Water Bottles"), "Sport for everyone."),
    # Beauty
    BrandSpec("Bloom Botanics", "mid", ("Moisturisers", "Shampoo"), "Plant-powered care."),
    BrandSpec("Pure Ritual", "premium", ("Moisturisers", "Fragrance"), "Slow beauty."),
    BrandSpec("Maison Verre", "premium", ("Fragrance",), "Perfumes composed in Grasse."),
    BrandSpec("Glow Lab", "budget", ("Moisturisers", "Lipstick", "Makeup Brushes"), "Skincare science for less."),
    BrandSpec("Velvet & Vine", "mid", ("Lipstick", "Fragrance", "Makeup Brushes"), "Colour with character."),
    BrandSpec("Tresse", "mid", ("Shampoo",), "Hair care from the salon."),
    BrandSpec("Fairleaf", "budget", ("Shampoo", "Lipstick", "Makeup Brushes"), "Kind to skin, kind to the planet."),
    # Toys & Games
    BrandSpec("Meeple Works", "mid", ("Board Games",), "Games that bring people to the table."),
    BrandSpec("Tabletop Theory", "premium", ("Board Games", "Jigsaw Puzzles"), "Beautiful games."),
    BrandSpec("Piece by Piece", "mid", ("Jigsaw Puzzles",), "Puzzles to lose an afternoon in."),
    BrandSpec("Brickwise", "premium", ("Building Sets",), "Build anything."),
    BrandSpec("Tinker Town", "budget", ("Building Sets", "Soft Toys", "Board Games"), "Play every day."),
    BrandSpec("Cuddle Co", "mid", ("Soft Toys",), "Friends for life."),
    BrandSpec("Little Acorn", "budget", ("Soft Toys", "Jigsaw Puzzles", "Building Sets"), "Toys for small hands."),
)

# Where a brand of each tier sits within a category's price range, as a fraction of its log scale.
TIER_BANDS: dict[str, tuple[float, float]] = {"budget": (0.0, 0.45), "mid": (0.25, 0.75), "premium": (0.55, 1.0)}

SHOPPER_FIRST_NAMES = (
    "Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Ivy", "Leo",
    "Freya", "Oscar", "Lily", "Harry", "Grace", "Jack", "Rosie", "Theo", "Sophie", "Alfie",
)  # fmt: skip
SHOPPER_LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright",
    "Robinson", "Evans", "Walker", "Thompson", "Khan", "Hughes", "Green", "Hall", "Wood", "Clarke",
)  # fmt: skip
