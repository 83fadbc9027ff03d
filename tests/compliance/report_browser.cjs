// Reads report.html as a person would, in headless Chromium: the verdict, what is open, and a control's trace.
//
// node report_browser.cjs <report.html> <control id> [<report.html> <control id> ...]
//
// Prints one JSON object: the browser and the packages' versions, how long Chromium took, and per page its
// title, the verdict's text, the What needs attention section's text and where it starts (with the viewport's
// height, and where its link to the open findings leads, where it has one), the Open section's text, the headings
// of the Acknowledgments section's kinds (in order, each with where the summary's link to it lands), the text of
// the control the Open section links to once that link is followed, then of the first resource the control links
// to, and every request the page made. Chromium is @sparticuz/chromium's build (shipped inside its npm package,
// unpacked into $TMPDIR), driven by puppeteer-core: nothing is downloaded.
"use strict";

const path = require("node:path");
const fs = require("node:fs");
const { pathToFileURL } = require("node:url");

const PACKAGES = ["@sparticuz/chromium", "puppeteer-core"];
const MISSING = 3;

function load(name) {
  try {
    return require(name);
  } catch (error) {
    if (error.code !== "MODULE_NOT_FOUND" && error.code !== "ERR_MODULE_NOT_FOUND") throw error;
    process.stderr.write(`missing npm package ${name} (${PACKAGES.join(", ")} are needed)\n`);
    process.exit(MISSING);
  }
}

async function followLink(page, selector) {
  // A person opens a folded list, clicks the link, and the page scrolls to the target, which the hash now names.
  const link = await page.$(selector);
  if (link === null) throw new Error(`no link ${selector}`);
  const href = await link.evaluate((a) => {
    const folded = a.closest("details");
    if (folded) folded.open = true;
    return a.getAttribute("href");
  });
  await link.click();
  await page.waitForFunction((expected) => window.location.hash === expected, {}, href);
  return page.evaluate(() => {
    const target = document.getElementById(decodeURIComponent(window.location.hash.slice(1)));
    return { hash: window.location.hash, text: target ? target.innerText : null };
  });
}

function versionOf(name) {
  // The package's own package.json, found above its entry point (its "exports" may not list package.json).
  let directory = path.dirname(require.resolve(name));
  while (!fs.existsSync(path.join(directory, "package.json"))) directory = path.dirname(directory);
  return JSON.parse(fs.readFileSync(path.join(directory, "package.json"), "utf8")).version;
}

async function read(browser, file, control) {
  const page = await browser.newPage();
  const requests = [];
  page.on("request", (request) => requests.push(request.url()));
  await page.goto(pathToFileURL(path.resolve(file)).href, { waitUntil: "load" });
  const title = await page.title();
  const verdict = await page.$eval("#verdict", (element) => element.innerText);
  // Where the first section starts, before anything scrolls the page: on the first screen, or below it.
  const attention = await page.$eval("#attention", (element) => ({
    text: element.innerText,
    top: element.getBoundingClientRect().top,
    viewport: window.innerHeight,
  }));
  const toOpenFindings = '#attention a[href="#open-findings"]';
  attention.followed = (await page.$(toOpenFindings)) ? await followLink(page, toOpenFindings) : null;
  const open = await page.$eval("#open", (element) => element.innerText);
  const kinds = await page.$$eval("#acknowledgments h3", (headings) =>
    headings.map((heading) => ({ id: heading.id, text: heading.innerText })),
  );
  // The summary's table links each kind to its heading: follow each link, as a person would.
  const linked = [];
  for (const kind of kinds) linked.push((await followLink(page, `#summary a[href="#${kind.id}"]`)).text);
  const traced = await followLink(page, `#open a[href="#control-${control}"]`);
  const within = `[id="control-${control}"]`;
  const resource = await followLink(page, `${within} a[href^="#resource-"]`);
  const rule = await page.$eval(`${within} a[href^="#rule-"]`, (a) => a.getAttribute("href"));
  await page.close();
  return { title, verdict, attention, open, kinds: kinds.map((kind) => kind.text), linked, control: traced, resource, rule, requests };
}

async function main() {
  const pairs = process.argv.slice(2);
  const chromium = load("@sparticuz/chromium");
  const puppeteer = load("puppeteer-core");
  const profile = fs.mkdtempSync(path.join(process.env.TMPDIR || "/tmp", "profile-"));
  const started = Date.now();
  const executablePath = await (chromium.default ?? chromium).executablePath();
  const unpacked = Date.now();
  const browser = await puppeteer.launch({
    executablePath,
    headless: "shell",
    // A machine with no network and no display: no sandbox (root in a container), no GPU, nothing that calls home.
    args: [
      "--no-sandbox",
      "--no-zygote",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-default-apps",
      "--disable-extensions",
      `--user-data-dir=${profile}`,
    ],
  });
  const launched = Date.now();
  try {
    const pages = [];
    for (let i = 0; i < pairs.length; i += 2) pages.push(await read(browser, pairs[i], pairs[i + 1]));
    process.stdout.write(
      JSON.stringify({
        browser: await browser.version(),
        packages: Object.fromEntries(PACKAGES.map((name) => [name, versionOf(name)])),
        milliseconds: { unpack: unpacked - started, launch: launched - unpacked, pages: Date.now() - launched },
        pages,
      }),
    );
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
