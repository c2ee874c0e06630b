/*
 * The cognitive battery, run in the portal's patient (kiosk) mode: word list -> immediate recall ->
 * simple reaction time -> digit span forward -> digit span backward -> delayed recall -> save.
 *
 * The browser only presents and records: every answer and timing goes to the server raw (the format is
 * modalities/cognitive/inputs.py's RESPONSES_SCHEMA) and is scored there. Timings come from data attributes set by
 * the server (standard, or shortened for the browser tests). Times are performance.now() / event.timeStamp,
 * the same monotonic high-resolution clock; a reaction time runs from the animation frame in which the
 * circle is drawn to the key press.
 *
 * Vanilla JavaScript, no dependencies, keyboard first: Enter presses the focused button, the space bar is
 * the reaction key; each screen moves focus to its heading or its input.
 */
(function () {
  "use strict";

  var root = document.getElementById("battery");
  var protocolElement = document.getElementById("battery-protocol");
  if (!root || !protocolElement) {
    return;
  }
  var protocol = JSON.parse(protocolElement.textContent);
  var data = root.dataset;
  var timing = {
    wordMs: Number(data.wordMs),
    wordGapMs: Number(data.wordGapMs),
    digitMs: Number(data.digitMs),
    digitGapMs: Number(data.digitGapMs),
    rtTrials: Number(data.rtTrials),
    rtWindowMs: Number(data.rtWindowMs),
    foreperiodMinMs: Number(data.foreperiodMinMs),
    foreperiodMaxMs: Number(data.foreperiodMaxMs),
    feedbackMs: Number(data.feedbackMs)
  };
  var csrfInput = root.querySelector("input[name=csrfmiddlewaretoken]");
  var csrfToken = csrfInput ? csrfInput.value : "";

  var responses = {
    version: 1,
    protocol: {
      battery: "medilens-cognitive",
      version: 1,
      timing: data.timing || "standard",
      word_ms: timing.wordMs,
      digit_ms: timing.digitMs,
      rt_window_ms: timing.rtWindowMs,
      foreperiod_min_ms: timing.foreperiodMinMs,
      foreperiod_max_ms: timing.foreperiodMaxMs
    },
    reaction_time: { trials: [] },
    digit_span: { forward: [], backward: [] },
    word_recall: {
      list_id: protocol.list_id,
      words: protocol.words.slice(),
      immediate: [],
      delayed: [],
      delay_ms: 0
    }
  };

  var MAX_RECALLED = 100;
  var MAX_WORD_CHARS = 40;
  var MAX_DIGITS = 24;

  function part(role) {
    return root.querySelector("[data-role='" + role + "']");
  }

  // --- screens -------------------------------------------------------------------------------------
  var screens = root.querySelectorAll("[data-screen]");
  var currentScreen = "welcome";

  function show(name, focusTarget) {
    currentScreen = name;
    for (var i = 0; i < screens.length; i++) {
      screens[i].hidden = screens[i].getAttribute("data-screen") !== name;
    }
    var screen = root.querySelector("[data-screen='" + name + "']");
    var target = focusTarget || screen.querySelector("h1[tabindex]") || screen;
    if (target && typeof target.focus === "function") {
      target.focus({ preventScroll: false });
    }
  }

  function sleep(ms) {
    return new Promise(function (resolve) {
      window.setTimeout(resolve, ms);
    });
  }

  function waitForAction(name) {
    var button = root.querySelector("[data-action='" + name + "']");
    return new Promise(function (resolve) {
      function onClick(event) {
        event.preventDefault();
        button.removeEventListener("click", onClick);
        resolve();
      }
      button.addEventListener("click", onClick);
    });
  }

  function waitForSubmit(form) {
    return new Promise(function (resolve) {
      function onSubmit(event) {
        event.preventDefault();
        form.removeEventListener("submit", onSubmit);
        resolve();
      }
      form.addEventListener("submit", onSubmit);
    });
  }

  // Patient mode: Back stays on the battery (the entry is pushed on the Start click, a user gesture, so
  // the browser's history intervention does not skip it). The server redirects any other page here anyway.
  function holdHistory() {
    try {
      window.history.pushState({ kiosk: true }, "", window.location.href);
      window.addEventListener("popstate", function () {
        window.history.pushState({ kiosk: true }, "", window.location.href);
      });
    } catch (error) {
      /* history unavailable: the server-side redirect still applies */
    }
  }

  function enterFullscreen() {
    var element = document.documentElement;
    if (element.requestFullscreen) {
      element.requestFullscreen().catch(function () {
        /* refused (e.g. not allowed in this browser): the page is already a full-window layout */
      });
    }
  }

  // --- word list -----------------------------------------------------------------------------------
  async function presentWords() {
    show("words-intro");
    await waitForAction("words-begin");
    var wordElement = part("word");
    var progress = part("word-progress");
    show("words-show", wordElement);
    for (var i = 0; i < protocol.words.length; i++) {
      wordElement.textContent = protocol.words[i];
      progress.textContent = "Word " + (i + 1) + " of " + protocol.words.length;
      await sleep(timing.wordMs);
      wordElement.textContent = "";
      await sleep(timing.wordGapMs);
    }
    progress.textContent = "";
  }

  function splitWords(text) {
    return text
      .split(/[\s,;.]+/)
      .map(function (word) {
        return word.trim().slice(0, MAX_WORD_CHARS);
      })
      .filter(function (word) {
        return word.length > 0;
      })
      .slice(0, MAX_RECALLED);
  }

  async function recall(kind) {
    var heading = part("recall-heading");
    heading.textContent =
      kind === "immediate" ? "Which words do you remember?" : "Earlier you saw a list of words. Which do you remember now?";
    var input = document.getElementById("recall-input");
    input.value = "";
    show("recall", heading);
    input.focus();
    await waitForSubmit(part("recall-form"));
    return splitWords(input.value);
  }

  // --- simple reaction time ------------------------------------------------------------------------
  var respond = null; // set while a trial waits for the reaction key

  document.addEventListener("keydown", function (event) {
    if (currentScreen !== "rt") {
      return;
    }
    if (event.key !== " " && event.code !== "Space") {
      return;
    }
    event.preventDefault(); // no page scroll, no button press
    if (event.repeat || !respond) {
      return;
    }
    respond(event.timeStamp || window.performance.now());
  });

  function randomForeperiod() {
    var span = timing.foreperiodMaxMs - timing.foreperiodMinMs;
    return Math.round(timing.foreperiodMinMs + Math.random() * span);
  }

  function reactionTrial() {
    var circle = part("rt-circle");
    var message = part("rt-message");
    return new Promise(function (resolve) {
      var foreperiod = randomForeperiod();
      var onset = null;
      var timers = [];
      circle.hidden = true;
      message.textContent = "Wait for the circle, then press the space bar.";

      function finish(trial, note) {
        timers.forEach(window.clearTimeout);
        respond = null;
        circle.hidden = true;
        message.textContent = note;
        resolve(trial);
      }

      respond = function (stamp) {
        if (onset === null) {
          finish({ foreperiod_ms: foreperiod, rt_ms: null, premature: true }, "Too soon: wait for the circle.");
          return;
        }
        var rt = Math.round((stamp - onset) * 10) / 10;
        if (rt > timing.rtWindowMs) {
          finish({ foreperiod_ms: foreperiod, rt_ms: null, premature: false }, "");
          return;
        }
        finish({ foreperiod_ms: foreperiod, rt_ms: Math.max(rt, 0.1), premature: false }, "");
      };

      timers.push(
        window.setTimeout(function () {
          window.requestAnimationFrame(function () {
            if (respond === null) {
              return;
            }
            circle.hidden = false;
            onset = window.performance.now();
            timers.push(
              window.setTimeout(function () {
                finish({ foreperiod_ms: foreperiod, rt_ms: null, premature: false }, "No press that time.");
              }, timing.rtWindowMs)
            );
          });
        }, foreperiod)
      );
    });
  }

  async function reactionTime() {
    part("rt-count").textContent = String(timing.rtTrials);
    show("rt-intro");
    await waitForAction("rt-begin");
    var area = part("rt-area");
    var progress = part("rt-progress");
    area.addEventListener("pointerdown", function (event) {
      if (currentScreen === "rt" && respond) {
        event.preventDefault();
        respond(event.timeStamp || window.performance.now());
      }
    });
    show("rt", area);
    for (var i = 0; i < timing.rtTrials; i++) {
      progress.textContent = "Round " + (i + 1) + " of " + timing.rtTrials;
      responses.reaction_time.trials.push(await reactionTrial());
      await sleep(timing.feedbackMs);
    }
  }

  // --- digit span ----------------------------------------------------------------------------------
  var DIGIT_TEXT = {
    forward: {
      heading: "Numbers in the same order",
      instructions: "You will see some numbers, one at a time. Then type them in the same order.",
      label: "Type the numbers in the same order"
    },
    backward: {
      heading: "Numbers in reverse order",
      instructions:
        "Now type the numbers in reverse order: if you see 1 2 3, type 3 2 1. You will see them one at a time.",
      label: "Type the numbers in reverse order"
    }
  };

  async function presentDigits(sequence) {
    var digitElement = part("digit");
    show("digits-show", digitElement);
    for (var i = 0; i < sequence.length; i++) {
      digitElement.textContent = String(sequence[i]);
      await sleep(timing.digitMs);
      digitElement.textContent = "";
      await sleep(timing.digitGapMs);
    }
  }

  async function answerDigits() {
    var input = document.getElementById("digits-input");
    input.value = "";
    show("digits-answer", input);
    var started = window.performance.now();
    await waitForSubmit(part("digits-form"));
    var digits = (input.value.match(/[0-9]/g) || []).slice(0, MAX_DIGITS).map(Number);
    return { response: digits, responseMs: Math.round(window.performance.now() - started) };
  }

  function sameDigits(a, b) {
    if (a.length !== b.length) {
      return false;
    }
    for (var i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        return false;
      }
    }
    return true;
  }

  // Two trials per length, longer each time; stop when both trials of one length are wrong.
  async function digitSpan(direction) {
    var text = DIGIT_TEXT[direction];
    part("digits-heading").textContent = text.heading;
    part("digits-instructions").textContent = text.instructions;
    part("digits-label").textContent = text.label;
    show("digits-intro");
    await waitForAction("digits-begin");
    var sequences = protocol[direction];
    var index = 0;
    while (index < sequences.length) {
      var length = sequences[index].length;
      var anyCorrect = false;
      while (index < sequences.length && sequences[index].length === length) {
        var presented = sequences[index];
        await presentDigits(presented);
        var answer = await answerDigits();
        var expected = direction === "backward" ? presented.slice().reverse() : presented;
        anyCorrect = sameDigits(answer.response, expected) || anyCorrect;
        responses.digit_span[direction].push({
          presented: presented.slice(),
          response: answer.response,
          response_ms: answer.responseMs
        });
        index += 1;
      }
      if (!anyCorrect) {
        break;
      }
    }
  }

  // --- saving --------------------------------------------------------------------------------------
  async function save() {
    var message = part("save-message");
    var retry = root.querySelector("[data-action='retry']");
    show("saving");
    for (;;) {
      message.textContent = "";
      try {
        var response = await window.fetch(data.submitUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
          body: JSON.stringify(responses)
        });
        var body = await response.json().catch(function () {
          return {};
        });
        if (response.ok && body.redirect) {
          window.location.replace(body.redirect);
          return;
        }
        if (body.errors && window.console) {
          window.console.warn("The battery's answers were refused:", body.errors);
        }
        message.textContent = "The answers could not be saved. Please hand the device back to the clinician.";
      } catch (error) {
        message.textContent = "The connection was lost. Please hand the device back to the clinician.";
      }
      retry.hidden = false;
      retry.focus();
      await waitForAction("retry");
      retry.hidden = true;
    }
  }

  // --- the battery ---------------------------------------------------------------------------------
  async function run() {
    await waitForAction("start");
    holdHistory();
    enterFullscreen();
    await presentWords();
    var presentationEnded = window.performance.now();
    responses.word_recall.immediate = await recall("immediate");
    await reactionTime();
    await digitSpan("forward");
    await digitSpan("backward");
    responses.word_recall.delay_ms = Math.round(window.performance.now() - presentationEnded);
    responses.word_recall.delayed = await recall("delayed");
    await save();
  }

  show("welcome");
  run();
})();
