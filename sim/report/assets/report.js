// The HTML report's packet explorer: filters the packet list, shows a selected packet's
// hops, the selected hop's frame header by header, and marks the hop's namespace and
// device in the topology picture. Reads the JSON in #packet-data; fetches nothing.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("packet-data").textContent);
  var labels = JSON.parse(document.getElementById("ns-labels").textContent);
  var machines = data.machines;
  var state = { packet: null, hop: 0 };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function addOption(select, value, text) {
    var o = el("option", "", text);
    o.value = value;
    select.appendChild(o);
  }
  function distinct(f) {
    var seen = [];
    data.packets.forEach(function (p) {
      f(p).forEach(function (v) { if (seen.indexOf(v) < 0) { seen.push(v); } });
    });
    return seen;
  }

  function fillFilters() {
    machines.forEach(function (m, i) { addOption($("f-host"), String(i), m); });
    distinct(function (p) { return p.protos; }).sort().forEach(function (v) {
      addOption($("f-proto"), v, v);
    });
    distinct(function (p) { return p.devs; }).sort().forEach(function (v) {
      addOption($("f-dev"), v, v);
    });
    ["f-host", "f-proto", "f-dev"].forEach(function (id) {
      $(id).addEventListener("change", renderList);
    });
  }

  function matches(p) {
    var host = $("f-host").value, proto = $("f-proto").value, dev = $("f-dev").value;
    return (host === "" || p.hosts.indexOf(Number(host)) >= 0) &&
      (proto === "" || p.protos.indexOf(proto) >= 0) &&
      (dev === "" || p.devs.indexOf(dev) >= 0);
  }

  function renderList() {
    var body = $("packet-rows");
    body.textContent = "";
    var shown = 0;
    data.packets.forEach(function (p) {
      if (!matches(p)) { return; }
      shown += 1;
      var tr = el("tr", p.dropped ? "dropped" : "");
      tr.dataset.n = p.n;
      if (state.packet === p) { tr.classList.add("sel"); }
      [String(p.n), p.t, machines[p.from], p.protos.join(" ")].forEach(function (v) {
        tr.appendChild(el("td", "", v));
      });
      var summary = el("td", "summary", p.summary);
      summary.title = p.summary;
      tr.appendChild(summary);
      tr.addEventListener("click", function () { selectPacket(p); });
      body.appendChild(tr);
    });
    $("packet-count").textContent = shown + " of " + data.packets.length + " packets";
  }

  function nsName(machine, ns) {
    var label = labels[machine + "|" + ns];
    return label && label !== ns ? ns + " (" + label + ")" : ns;
  }

  function selectPacket(p) {
    state.packet = p;
    Array.prototype.forEach.call($("packet-rows").children, function (tr) {
      tr.classList.toggle("sel", tr.dataset.n === String(p.n));
    });
    var list = $("hop-list");
    list.textContent = "";
    p.hops.forEach(function (h, i) {
      var li = el("li");
      li.dataset.i = i;
      li.appendChild(el("span", "", h[0] + " "));
      li.appendChild(el("span", "stage stage-" + h[4], h[4]));
      li.appendChild(el("span", "", " " + machines[h[1]] + " " + h[2] + " " + h[3] + ": " + h[5]));
      li.addEventListener("click", function () { selectHop(i); });
      list.appendChild(li);
    });
    $("packet-title").textContent = "Packet " + p.n + ": " + p.hops.length + " hops";
    selectHop(0);
  }

  function row(table, name, value) {
    var tr = el("tr");
    tr.appendChild(el("th", "", name));
    tr.appendChild(el("td", "mono", value));
    table.appendChild(tr);
  }

  function selectHop(i) {
    var p = state.packet;
    if (!p) { return; }
    state.hop = Math.max(0, Math.min(i, p.hops.length - 1));
    var h = p.hops[state.hop];
    var list = $("hop-list");
    Array.prototype.forEach.call(list.children, function (li) {
      var on = li.dataset.i === String(state.hop);
      li.classList.toggle("sel", on);
      // Scrolls the list only, never the page, to keep the selected hop in view.
      if (on && li.offsetTop < list.scrollTop) { list.scrollTop = li.offsetTop; }
      if (on && li.offsetTop + li.offsetHeight > list.scrollTop + list.clientHeight) {
        list.scrollTop = li.offsetTop + li.offsetHeight - list.clientHeight;
      }
    });
    $("hop-pos").textContent = "hop " + (state.hop + 1) + " of " + p.hops.length;
    var detail = $("hop-detail");
    detail.textContent = "";
    var t = el("table");
    row(t, "Time", h[0]);
    row(t, "Machine", machines[h[1]]);
    row(t, "Namespace", nsName(machines[h[1]], h[2]));
    row(t, "Device", h[3]);
    row(t, "Stage", h[4]);
    row(t, "Detail", h[5]);
    detail.appendChild(t);
    showFrame(h[6]);
    mark(machines[h[1]], h[2], h[3]);
  }

  function showFrame(index) {
    var box = $("headers");
    box.textContent = "";
    if (index === null) {
      $("frame-title").textContent = "No frame: the packet never left a device.";
      return;
    }
    var f = data.frames[index];
    $("frame-title").textContent = "Frame as sent on " + machines[f[0]] + " " + f[1] + " " +
      f[2] + " at " + f[3];
    data.layers[f[4]].forEach(function (layer) {
      var t = el("table", layer[0].indexOf("inner ") === 0 ? "inner" : "");
      t.appendChild(el("caption", "", layer[0]));
      layer[1].forEach(function (kv) { row(t, kv[0], kv[1]); });
      box.appendChild(t);
    });
  }

  // Marks the hop's namespace and device in the topology picture, when it shows them.
  function mark(machine, ns, dev) {
    var nsKey = machine + "|" + ns, devKey = nsKey + "|" + dev;
    document.querySelectorAll(".topology .sel").forEach(function (e) { e.classList.remove("sel"); });
    document.querySelectorAll(".topology [data-ns], .topology [data-dev]").forEach(function (e) {
      if (e.getAttribute("data-ns") === nsKey || e.getAttribute("data-dev") === devKey) {
        e.classList.add("sel");
      }
    });
  }

  fillFilters();
  renderList();
  $("hop-prev").addEventListener("click", function () { selectHop(state.hop - 1); });
  $("hop-next").addEventListener("click", function () { selectHop(state.hop + 1); });
  document.addEventListener("keydown", function (e) {
    if (e.target.tagName === "SELECT") { return; }
    if (e.key === "ArrowDown" || e.key === "j") { selectHop(state.hop + 1); }
    if (e.key === "ArrowUp" || e.key === "k") { selectHop(state.hop - 1); }
  });
}());
