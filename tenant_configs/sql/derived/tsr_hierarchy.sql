-- TSR hierarchy: every territory with its area, region and zone, the TSR (territory
-- sales representative) who owns it and how many territories that TSR covers, and
-- the distributors and active dealers it serves (legacy evening tsr_hierarchy job).
WITH distributors AS (
    SELECT wss_territory_code, COUNT(*) AS distributors
    FROM dim_customer_master
    GROUP BY wss_territory_code
),
dealers AS (
    SELECT wss_territory_code, COUNT(*) AS active_dealers
    FROM dim_dealer_master
    WHERE is_active
    GROUP BY wss_territory_code
)
SELECT
    h.zone,
    h.region_code,
    h.area_code,
    h.wss_territory_code,
    h.territory_name,
    h.tsr_code,
    h.tsr_name,
    COUNT(*) OVER (PARTITION BY h.tsr_code) AS tsr_territories,
    COALESCE(c.distributors, 0) AS distributors,
    COALESCE(d.active_dealers, 0) AS active_dealers
FROM dim_hierarchy AS h
LEFT JOIN distributors AS c ON c.wss_territory_code = h.wss_territory_code
LEFT JOIN dealers AS d ON d.wss_territory_code = h.wss_territory_code
