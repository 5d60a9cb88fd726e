-- summary.lua: makes wrk print one machine-readable line at the end of a run, for the
-- benchmark runner (harness/bench). Usage: wrk -s harness/wrk/summary.lua ... URL
--
-- The line is "C10K-WRK-SUMMARY " followed by a JSON object: the counts wrk keeps, latency
-- percentiles in microseconds, and a "spectrum" of (percentile, value) pairs at
-- HdrHistogram's ticks (5 per halving of the distance to 100%), so the runner can draw the
-- whole latency distribution from wrk too.
--
-- wrk's latency:percentile(100) returns 0, so the maximum is latency.max.

local function spectrum(latency, total)
	local points = {}
	local k = 0
	while true do
		local p = 100 * (1 - 2 ^ (-k / 5))
		-- Past 1/(1-p) > total the percentile is just the maximum again.
		if total <= 0 or 1 / (1 - p / 100) > total or k > 5 * 30 then
			break
		end
		points[#points + 1] = string.format("[%.6f,%d]", p, latency:percentile(p))
		k = k + 1
	end
	points[#points + 1] = string.format("[100,%d]", latency.max)
	return "[" .. table.concat(points, ",") .. "]"
end

function done(summary, latency, requests)
	local e = summary.errors
	local pct = function(p) return latency:percentile(p) end
	io.write(string.format(
		'C10K-WRK-SUMMARY {"duration_us":%d,"requests":%d,"bytes":%d,' ..
		'"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
		'"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p99.9":%d,' ..
		'"p99.99":%d,"max":%d},"spectrum":%s}\n',
		summary.duration, summary.requests, summary.bytes,
		e.connect, e.read, e.write, e.status, e.timeout,
		latency.min, latency.mean, pct(50), pct(90), pct(99), pct(99.9), pct(99.99),
		latency.max, spectrum(latency, summary.requests)))
end
